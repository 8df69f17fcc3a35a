//! The wasm-bindgen surface that `www/kao.js` calls: collect the fetched files, load the
//! model, identify RGBA pixels. JSON goes out as strings; `kao.js` parses it.

use std::collections::BTreeMap;

use wasm_bindgen::prelude::*;

use crate::model::WebModel;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console)]
    fn error(message: &str);
}

/// The files of a bundle, added one by one as the page fetches them.
#[wasm_bindgen]
#[derive(Default)]
pub struct Files(BTreeMap<String, Vec<u8>>);

#[wasm_bindgen]
impl Files {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Files {
        Files::default()
    }

    pub fn add(&mut self, name: String, bytes: Vec<u8>) {
        self.0.insert(name, bytes);
    }
}

/// A loaded model.
#[wasm_bindgen]
pub struct Model(WebModel);

#[wasm_bindgen]
impl Model {
    #[wasm_bindgen(constructor)]
    pub fn new(files: Files) -> Result<Model, JsError> {
        // A panic would otherwise surface as a bare "unreachable" trap.
        std::panic::set_hook(Box::new(|info| error(&format!("kao: {info}"))));
        WebModel::load(files.0)
            .map(Model)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// `bundle.json` plus the tags the model can predict, as JSON.
    pub fn info(&self) -> String {
        let info = self.0.info();
        let tags: Vec<&str> = self
            .0
            .predictor()
            .artifact()
            .predictable_tags()
            .map(|(_, t)| t.name.as_str())
            .collect();
        let mut value = serde_json::to_value(info).expect("bundle info serialises");
        value["tags"] = tags.into();
        value.to_string()
    }

    /// The Prediction API's JSON for a JPEG, decoded as `kao predict` decodes it; an error
    /// starting `decode:` for any other format or a file Kao's decoder cannot read.
    pub fn identify_encoded(&self, bytes: &[u8], created: String) -> Result<String, JsError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.0
            .identify_encoded(bytes, id, created)
            .map(|p| serde_json::to_string(&p).expect("prediction serialises"))
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// The Prediction API's JSON for `width`×`height` RGBA pixels.
    pub fn identify(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
        created: String,
    ) -> Result<String, JsError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.0
            .identify(rgba, width, height, id, created)
            .map(|p| serde_json::to_string(&p).expect("prediction serialises"))
            .map_err(|e| JsError::new(&e.to_string()))
    }
}
