//! The upload page's static files (functions/upload-page): which mounted
//! file a request path names, and the headers it is served with. Only plain
//! names of known types are served: no directories, no dot files, no `..`.

/// A file to serve.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    /// Path of the file in the component's filesystem.
    pub file: String,
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// What a request path (the part after the component's route, Spin's
/// `spin-path-info`: "", "/" or "/app.js") resolves to under `mount`.
pub fn resolve(path_info: &str, mount: &str) -> Option<Asset> {
    let name = match path_info.trim_start_matches('/') {
        "" => "index.html",
        name => name,
    };
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) && !name.starts_with('.');
    if !plain {
        return None;
    }
    let content_type = match name.rsplit_once('.')?.1 {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => return None,
    };
    // The bundle's names carry no hash, so browsers revalidate everything.
    Some(Asset { file: format!("{}/{name}", mount.trim_end_matches('/')), content_type, cache_control: "no-cache" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_bundle_resolve() {
        for (path, file, kind) in [
            ("", "/page/index.html", "text/html; charset=utf-8"),
            ("/", "/page/index.html", "text/html; charset=utf-8"),
            ("/app.js", "/page/app.js", "text/javascript; charset=utf-8"),
            ("/app.css", "/page/app.css", "text/css; charset=utf-8"),
            ("/app.js.map", "/page/app.js.map", "application/json"),
        ] {
            let asset = resolve(path, "/page/").unwrap();
            assert_eq!((asset.file.as_str(), asset.content_type), (file, kind), "{path}");
        }
    }

    #[test]
    fn nothing_outside_the_mount_nor_of_unknown_type() {
        for path in ["/../spin.toml", "/..", "/a/../../etc/passwd.html", "/sub/app.js", "/.hidden.js", "/app", "/app.wasm", "/%2e%2e.html", "/a\\b.js"] {
            assert_eq!(resolve(path, "/page"), None, "{path}");
        }
    }
}
