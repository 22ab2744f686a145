//! kiln's upload page: `GET /upload/`. Serves the page and its bundle
//! (functions/upload-page/web, built into dist/ by
//! scripts/build-upload-page.sh and mounted at /page by spin.toml). The page
//! talks to the upload API with a scoped upload token, never the master one.

use kiln_spin::assets::resolve;
use kiln_spin::http::{header, ApiError};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

/// Where spin.toml mounts web/dist.
const MOUNT: &str = "/page";

#[http_component]
fn handle(req: IncomingRequest) -> Response {
    if !matches!(req.method(), Method::Get | Method::Head) {
        return ApiError::new(405, "method_not_allowed", "the upload page answers GET").into_response();
    }
    let info = header(&req, "spin-path-info").unwrap_or_default();
    if info.is_empty() {
        // "/upload" → "/upload/", so the page's relative links resolve.
        let full = req.path_with_query().unwrap_or_default();
        let (path, query) = full.split_once('?').map_or((full.as_str(), None), |(p, q)| (p, Some(q)));
        let location = format!("{path}/{}", query.map(|q| format!("?{q}")).unwrap_or_default());
        return Response::builder().status(308).header("location", location).body(Vec::<u8>::new()).build();
    }
    let Some(asset) = resolve(&info, MOUNT) else {
        return ApiError::new(404, "not_found", format!("no file {info:?} on the upload page")).into_response();
    };
    match std::fs::read(&asset.file) {
        Ok(body) => Response::builder()
            .status(200)
            .header("content-type", asset.content_type)
            .header("cache-control", asset.cache_control)
            .header("x-content-type-options", "nosniff")
            .body(if req.method() == Method::Head { Vec::new() } else { body })
            .build(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ApiError::new(404, "not_found", format!("no file {info:?} on the upload page (was it built? scripts/build-upload-page.sh)")).into_response()
        }
        Err(e) => ApiError::new(500, "internal", format!("reading {}: {e}", asset.file)).into_response(),
    }
}
