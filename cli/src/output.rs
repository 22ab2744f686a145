//! Renders a manifest as a plain-text table.

use serde_json::Value;

pub fn table(manifest: &Value) -> String {
    let o = &manifest["original"];
    let mut out = format!(
        "upload {}  status {}\noriginal {}  {} bytes  {}x{}  sha256 {}\n",
        manifest["id"].as_str().unwrap_or("?"),
        manifest["status"].as_str().unwrap_or("?"),
        o["key"].as_str().unwrap_or("?"),
        o["size"],
        o["width"],
        o["height"],
        o["sha256"].as_str().unwrap_or("?"),
    );
    out.push_str(&format!("{:<10} {:<7} {:>9} {:>11} {:>8}  {}\n", "format", "status", "bytes", "size", "ms", "url / error"));
    for v in manifest["variants"].as_array().into_iter().flatten() {
        let dims = format!("{}x{}", v["width"].as_u64().unwrap_or(0), v["height"].as_u64().unwrap_or(0));
        let where_ = v["url"].as_str().or(v["error"].as_str()).unwrap_or("");
        out.push_str(&format!(
            "{:<10} {:<7} {:>9} {:>11} {:>8.0}  {}\n",
            v["format"].as_str().unwrap_or("?"),
            v["status"].as_str().unwrap_or("?"),
            v["size"].as_u64().unwrap_or(0),
            dims,
            v["ms"].as_f64().unwrap_or(0.0),
            where_
        ));
    }
    out
}
