//! Where manifests are kept: `manifest.json` in the bucket next to the
//! variants (public, like them), and a copy in Spin key-value under
//! `upload/<id>` so `GET /v1/uploads/<id>` needs no listing.

use kiln_converter::api::ApiError;
use kiln_converter::storage::Storage;
use kiln_core::keys::variant_folder;
use kiln_core::manifest::Manifest;
use spin_sdk::key_value::Store;

fn kv_key(id: &str) -> String {
    format!("upload/{id}")
}

fn store() -> Result<Store, ApiError> {
    Store::open_default().map_err(|e| ApiError::new(500, "kv_failed", format!("opening key-value store: {e}")))
}

/// Saves `manifest` to key-value only: progress while converting.
pub fn save_progress(manifest: &Manifest) -> Result<(), ApiError> {
    let json = serde_json::to_vec_pretty(manifest).expect("manifest serializes");
    store()?
        .set(&kv_key(&manifest.id), &json)
        .map_err(|e| ApiError::new(500, "kv_failed", format!("saving manifest: {e}")))
}

/// Saves `manifest` to key-value and next to the variants of `source_key`.
pub async fn save(storage: &Storage, source_key: &str, manifest: &Manifest) -> Result<(), ApiError> {
    save_progress(manifest)?;
    let json = serde_json::to_vec_pretty(manifest).expect("manifest serializes");
    let key = format!("{}manifest.json", variant_folder(source_key));
    storage.put(&key, &json, "application/json").await.map(|_| ())
}

/// The manifest of upload `id`, if any.
pub fn load(id: &str) -> Result<Option<Manifest>, ApiError> {
    let bytes = store()?
        .get(&kv_key(id))
        .map_err(|e| ApiError::new(500, "kv_failed", format!("reading manifest: {e}")))?;
    bytes
        .map(|b| serde_json::from_slice(&b).map_err(|e| ApiError::new(500, "kv_failed", format!("stored manifest: {e}"))))
        .transpose()
}
