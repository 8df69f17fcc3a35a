"""Custom Vision's image-classification quickstart, run unchanged with the official Python
SDK (azure-cognitiveservices-vision-customvision) against `kao serve --root` on loopback.
Only the endpoint and the keys differ from the Azure quickstart.

Environment: KAO_ENDPOINT, KAO_TRAINING_KEY, KAO_PREDICTION_KEY, KAO_LFW5 (a folder per
person). Prints one JSON line of numbers at the end; any failed check raises.
"""

import io
import json
import os
import sys
import time
import urllib.request
import zipfile

from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.prediction.models import (
    CustomVisionErrorException as PredictionError,
)
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials

ENDPOINT = os.environ["KAO_ENDPOINT"]
LFW5 = os.environ["KAO_LFW5"]
PEOPLE = ["Colin_Powell", "Donald_Rumsfeld", "Gerhard_Schroeder", "Tony_Blair"]
TRAIN = range(1, 16)  # photos 1-15 of each person are uploaded
HELD_BACK = range(31, 46)  # photos 31-45 are never uploaded: the prediction test

credentials = ApiKeyCredentials(in_headers={"Training-key": os.environ["KAO_TRAINING_KEY"]})
trainer = CustomVisionTrainingClient(ENDPOINT, credentials)
prediction_credentials = ApiKeyCredentials(in_headers={"Prediction-key": os.environ["KAO_PREDICTION_KEY"]})
predictor = CustomVisionPredictionClient(ENDPOINT, prediction_credentials)


def photo(person, n):
    return os.path.join(LFW5, person, "%s_%04d.jpg" % (person, n))


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except CustomVisionErrorException as e:
        assert e.error.code == code, "expected %s, got %s: %s" % (code, e.error.code, e.error.message)
        return e.error.message
    raise AssertionError("expected the error %s" % code)


domains = trainer.get_domains()
assert any(d.type == "Classification" for d in domains), domains
assert trainer.get_domain(domains[0].id).id == domains[0].id

print("Creating project...", file=sys.stderr)
project = trainer.create_project("Kao quickstart", description="four people")
assert project.settings.classification_type == "Multiclass"
assert any(p.id == project.id for p in trainer.get_projects())

tags = {person: trainer.create_tag(project.id, person) for person in PEOPLE}
assert sorted(t.name for t in trainer.get_tags(project.id)) == sorted(PEOPLE)

print("Adding images...", file=sys.stderr)
entries = []
for person in PEOPLE:
    for n in TRAIN:
        with open(photo(person, n), "rb") as f:
            entries.append(ImageFileCreateEntry(name="%s_%d" % (person, n), contents=f.read(), tag_ids=[tags[person].id]))
# Batches of at most 64, as the quickstart says; 32 here so that there are two.
for start in range(0, len(entries), 32):
    result = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries[start:start + 32]))
    if not result.is_batch_successful:
        for image in result.images:
            print("Image status:", image.status, file=sys.stderr)
        raise AssertionError("upload batch failed")
    assert all(i.status == "OK" for i in result.images)
total = len(PEOPLE) * len(TRAIN)

# The same photo again is a duplicate, not a second image.
with open(photo(PEOPLE[0], 1), "rb") as f:
    again = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=[ImageFileCreateEntry(name="again", contents=f.read(), tag_ids=[tags[PEOPLE[0]].id])]))
assert again.images[0].status == "OKDuplicate", again.images[0].status

# An untagged photo through the multipart route, found among the untagged, then deleted.
with open(photo("George_W_Bush", 1), "rb") as f:
    data = trainer.create_images_from_data(project.id, f.read())
assert data.is_batch_successful and data.images[0].status == "OK"
untagged_id = data.images[0].image.id
assert trainer.get_untagged_image_count(project.id) == 1
assert [i.id for i in trainer.get_untagged_images(project.id)] == [untagged_id]
assert trainer.get_tagged_image_count(project.id) == total

# Paging: three pages of 25 give every tagged image once.
seen = []
for skip in range(0, total + 25, 25):
    page = trainer.get_tagged_images(project.id, take=25, skip=skip)
    assert len(page) == min(25, max(0, total - skip)), (skip, len(page))
    seen.extend(i.id for i in page)
assert len(seen) == total and len(set(seen)) == total
one_tag = trainer.get_tagged_images(project.id, tag_ids=[tags[PEOPLE[1]].id], take=100)
assert len(one_tag) == len(TRAIN) and all(i.tags[0].tag_name == PEOPLE[1] for i in one_tag)
assert trainer.get_tagged_image_count(project.id, tag_ids=[tags[PEOPLE[1]].id]) == len(TRAIN)
assert [i.id for i in trainer.get_images_by_ids(project.id, image_ids=[seen[0], seen[1]])] == seen[:2]

trainer.delete_images(project.id, image_ids=[untagged_id])
assert trainer.get_untagged_image_count(project.id) == 0
assert trainer.get_image_count(project.id) == total

# A tag renamed keeps its id and its images.
renamed = tags["Tony_Blair"]
renamed.name = "Tony Blair"
updated = trainer.update_tag(project.id, renamed.id, renamed)
assert updated.name == "Tony Blair" and updated.image_count == len(TRAIN)
names = {t.id: t.name for t in trainer.get_tags(project.id)}
assert names[renamed.id] == "Tony Blair"

print("Training...", file=sys.stderr)
started = time.time()
iteration = trainer.train_project(project.id)
assert iteration.status == "Training", iteration.status
while iteration.status != "Completed":
    assert iteration.status != "Failed", iteration.training_error_details
    assert time.time() - started < 900, "training did not finish in 15 minutes"
    iteration = trainer.get_iteration(project.id, iteration.id)
    print("Training status: " + iteration.status, file=sys.stderr)
    time.sleep(1)
training_seconds = time.time() - started

expect_error("BadRequestTrainingNotNeeded", trainer.train_project, project.id)

at_half = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.5)
at_zero = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.0)
assert at_half.precision != at_zero.precision or at_half.recall != at_zero.recall, (at_half, at_zero)
assert sorted(t.name for t in at_half.per_tag_performance) == sorted(["Tony Blair" if p == "Tony_Blair" else p for p in PEOPLE])

# The iteration is callable on the Prediction API at once.
publish_name = "faces"
assert trainer.publish_iteration(project.id, iteration.id, publish_name, "kao-prediction-resource")
assert trainer.get_iteration(project.id, iteration.id).publish_name == publish_name

# Kao's Web export (a static page running the model in the browser), polled as the SDK's
# samples poll any export; the download URI is signed, so a plain GET fetches the zip.
print("Exporting...", file=sys.stderr)
expect_error("BadRequestNotSupported", trainer.export_iteration, project.id, iteration.id, "CoreML")
started = time.time()
export = trainer.export_iteration(project.id, iteration.id, "Web")
assert export.status == "Exporting", export.status
while export.status == "Exporting":
    assert time.time() - started < 300, "the export did not finish in 5 minutes"
    time.sleep(0.5)
    export = next(e for e in trainer.get_exports(project.id, iteration.id) if e.platform == "Web")
assert export.status == "Done", export.as_dict()
export_seconds = time.time() - started
no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with no_proxy.open(export.download_uri) as r:
    archive = zipfile.ZipFile(io.BytesIO(r.read()))
assert {"index.html", "kao_web_bg.wasm", "model/bundle.json"} <= set(archive.namelist())
assert json.loads(archive.read("model/bundle.json"))["iteration"] == iteration.id

print("Predicting held-back photos...", file=sys.stderr)
right = wrong = 0
for person in PEOPLE:
    expected = "Tony Blair" if person == "Tony_Blair" else person
    for n in HELD_BACK:
        with open(photo(person, n), "rb") as f:
            results = predictor.classify_image(project.id, publish_name, f.read())
        top = results.predictions[0].tag_name if results.predictions else None
        if top == expected:
            right += 1
        else:
            wrong += 1
            print("wrong: %s %d -> %s" % (person, n, top), file=sys.stderr)
accuracy = right / (right + wrong)
assert accuracy >= 0.98, "only %.1f%% right" % (accuracy * 100)

# Quick test on the trained iteration, without publishing anything.
with open(photo("Colin_Powell", 50), "rb") as f:
    quick = trainer.quick_test_image(project.id, f.read(), iteration_id=iteration.id, store=False)
assert quick.predictions[0].tag_name == "Colin_Powell", quick.predictions[0]

trainer.unpublish_iteration(project.id, iteration.id)
assert trainer.get_iteration(project.id, iteration.id).publish_name is None
try:
    with open(photo(PEOPLE[0], HELD_BACK[0]), "rb") as f:
        predictor.classify_image(project.id, publish_name, f.read())
    raise AssertionError("an unpublished iteration still answered")
except PredictionError as e:
    assert e.error.code == "NotFoundIteration", e.error.code

trainer.delete_project(project.id)
assert all(p.id != project.id for p in trainer.get_projects())
expect_error("NotFoundProject", trainer.get_project, project.id)

print(json.dumps({
    "images": total,
    "held_back": right + wrong,
    "accuracy": accuracy,
    "training_seconds": training_seconds,
    "export_seconds": export_seconds,
    "precision_at_0.5": at_half.precision,
    "recall_at_0.5": at_half.recall,
    "precision_at_0": at_zero.precision,
    "recall_at_0": at_zero.recall,
}))
