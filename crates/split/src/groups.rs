use std::collections::BTreeMap;

use kao_image::PerceptualHash;

use crate::SplitItem;

/// Partitions items into groups that must stay in one split: items of the same source
/// photo, and items whose source photos' perceptual hashes are within `near_distance`
/// (joined transitively). Returns indices into `items`, each group ascending, groups
/// ordered by their first index; singletons included.
pub fn group_items(items: &[SplitItem], near_distance: u32) -> Vec<Vec<usize>> {
    // One entry per distinct source photo; its items follow it into whatever group it joins.
    let mut sources: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        sources.entry(&it.source).or_default().push(i);
    }
    let sources: Vec<Vec<usize>> = sources.into_values().collect();
    let mut parent: Vec<usize> = (0..sources.len()).collect();

    let hashed: Vec<(usize, PerceptualHash)> = sources
        .iter()
        .enumerate()
        .filter_map(|(s, members)| members.iter().find_map(|&i| items[i].phash).map(|h| (s, h)))
        .collect();
    let hashes: Vec<PerceptualHash> = hashed.iter().map(|&(_, h)| h).collect();
    for near in kao_dataset::near_groups(&hashes, near_distance) {
        let root = hashed[near[0]].0;
        for &k in &near[1..] {
            union(&mut parent, root, hashed[k].0);
        }
    }

    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (s, members) in sources.iter().enumerate() {
        let root = find(&mut parent, s);
        groups.entry(root).or_default().extend(members);
    }
    let mut out: Vec<Vec<usize>> = groups
        .into_values()
        .map(|mut g| {
            g.sort_unstable();
            g
        })
        .collect();
    out.sort_unstable();
    out
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (a, b) = (find(parent, a), find(parent, b));
    if a != b {
        parent[a.max(b)] = a.min(b);
    }
}
