//! deploy/ against the real CRD schemas: every SpinApp document in
//! deploy/*.yaml must validate against the `openAPIV3Schema` of
//! spin-operator's CRD (copied into deploy/crds/, source in SOURCE.md),
//! name only components that spin.toml defines, and set only variables
//! spin.toml declares. The other documents (HPA, CronJob) must at least
//! name their apiVersion, kind and metadata.name.

use kiln_e2e::repo_root;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    yaml_serde::Deserializer::from_str(&text)
        .map(|doc| {
            let value: yaml_serde::Value = serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::to_value(value).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The schema of `kind` at `version` from the CRDs in deploy/crds.
fn crd_schema(kind: &str, version: &str) -> Value {
    for entry in std::fs::read_dir(repo_root().join("deploy/crds")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        for crd in yaml_documents(&path) {
            if crd["spec"]["names"]["kind"] == kind {
                let versions = crd["spec"]["versions"].as_array().unwrap();
                let v = versions.iter().find(|v| v["name"] == version).unwrap_or_else(|| panic!("no {kind} {version} in {}", path.display()));
                return v["schema"]["openAPIV3Schema"].clone();
            }
        }
    }
    panic!("no CRD for {kind} in deploy/crds")
}

/// Components and variables spin.toml defines.
fn spin_toml() -> (BTreeSet<String>, BTreeSet<String>) {
    let text = std::fs::read_to_string(repo_root().join("spin.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    let keys = |table: &str| manifest[table].as_table().unwrap().keys().cloned().collect();
    (keys("component"), keys("variables"))
}

#[test]
fn every_manifest_in_deploy_is_valid() {
    let (components, variables) = spin_toml();
    let mut spinapps = 0;
    let mut deployed = std::collections::BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(repo_root().join("deploy")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        for doc in yaml_documents(path) {
            let (api, kind) = (doc["apiVersion"].as_str().unwrap_or_default(), doc["kind"].as_str().unwrap_or_default());
            let name = doc["metadata"]["name"].as_str().unwrap_or_default();
            assert!(!api.is_empty() && !kind.is_empty() && !name.is_empty(), "{}: a document without apiVersion, kind or name", path.display());
            if kind != "SpinApp" {
                continue;
            }
            spinapps += 1;
            let version = api.rsplit('/').next().unwrap();
            let schema = crd_schema(kind, version);
            let validator = jsonschema::validator_for(&schema).expect("the CRD schema compiles");
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
            assert!(errors.is_empty(), "{} {name}: {errors:#?}", path.display());
            for c in doc["spec"]["components"].as_array().into_iter().flatten() {
                assert!(components.contains(c.as_str().unwrap()), "{name}: component {c} is not in spin.toml");
                deployed.insert(c.as_str().unwrap().to_string());
            }
            for v in doc["spec"]["variables"].as_array().into_iter().flatten() {
                assert!(variables.contains(v["name"].as_str().unwrap()), "{name}: variable {} is not in spin.toml", v["name"]);
            }
        }
    }
    assert!(spinapps >= 2, "deploy/ holds {spinapps} SpinApps");
    // Every component of spin.toml runs in some SpinApp.
    let missing: Vec<_> = components.iter().filter(|c| !deployed.contains(*c)).collect();
    assert!(missing.is_empty(), "components no SpinApp in deploy/ runs: {missing:?}");
}

#[test]
fn the_validation_catches_a_broken_spinapp() {
    let schema = crd_schema("SpinApp", "v1alpha1");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let good = serde_json::json!({"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp", "metadata": {"name": "x"},
        "spec": {"image": "ghcr.io/x/kiln:v1", "executor": "containerd-shim-spin", "replicas": 1}});
    assert!(validator.is_valid(&good));
    for (field, value) in [("replicas", serde_json::json!("two")), ("components", serde_json::json!("manifest")), ("checks", serde_json::json!({"readiness": {"httpGet": {"path": 5}}}))] {
        let mut bad = good.clone();
        bad["spec"][field] = value;
        assert!(!validator.is_valid(&bad), "spec.{field} = {} passed", bad["spec"][field]);
    }
    let mut no_image = good.clone();
    no_image["spec"].as_object_mut().unwrap().remove("image");
    assert!(!validator.is_valid(&no_image), "a SpinApp without an image passed");
}
