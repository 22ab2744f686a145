//! `POST /v1/sweep`: one bounded pass of the sweep (see `kiln_upload::sweep`),
//! for a scheduler to call every minute or so (`make up` does; on Kubernetes
//! a CronJob). The cheap work (reaping, deleting, aborting) is done here;
//! each stalled upload is handed to its own request (a GET of it, which
//! re-drives), and each unconverted original to its own synthesized event,
//! by service chaining to this component: every re-drive gets its own
//! instance and its own time limit. The answer is the report, with how many
//! of those hand-offs were accepted.

use futures::future::join_all;
use kiln_spin::body::drain;
use kiln_spin::config::{var, Config};
use kiln_spin::http::{authorize, json, respond, ApiError};
use kiln_upload::sweep::Unconverted;
use spin_sdk::http::{IncomingRequest, Method, Request, Response, ResponseOutparam};

/// This component, by service chaining.
const SELF: &str = "http://manifest.spin.internal";

pub async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let response = match sweep(req).await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("kiln sweep: {} {}: {}", e.status, e.code, e.detail);
            e.into_response()
        }
    };
    respond(out, response).await;
}

async fn sweep(req: IncomingRequest) -> Result<Response, ApiError> {
    let config = Config::load()?;
    let authorized = authorize(&req, &config.auth_token, "auth_token");
    drain(req).await;
    authorized?;
    let kiln = kiln_spin::kiln(&config)?;
    let report = kiln.sweep().await?;
    let events_token = var("events_token")?;
    let redriven = join_all(report.redrive.iter().map(|id| hand_off(redrive(id, &config.auth_token)))).await;
    let converted = join_all(report.unconverted.iter().map(|o| hand_off(synthesize_event(o, &config.s3.bucket, &events_token)))).await;
    let accepted = |results: &[bool]| results.iter().filter(|ok| **ok).count();
    Ok(json(200, &serde_json::json!({
        "report": report,
        "handed_off": { "redrive": accepted(&redriven), "unconverted": accepted(&converted) },
        "more": report.more,
    })))
}

fn redrive(id: &str, token: &str) -> Request {
    Request::builder().method(Method::Get).uri(format!("{SELF}/v1/uploads/{id}")).header("authorization", format!("Bearer {token}")).build()
}

/// An S3 notification for an original nobody converted, as its own
/// (lost) event would have been.
fn synthesize_event(original: &Unconverted, bucket: &str, token: &str) -> Request {
    let key: String = url::form_urlencoded::byte_serialize(original.key.as_bytes()).collect();
    let body = serde_json::json!({"Records": [{"eventSource": "kiln:sweep", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": original.etag}}}]});
    Request::builder()
        .method(Method::Post)
        .uri(format!("{SELF}/v1/events"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

/// Sends one hand-off; whether it was accepted (the receiver answers before working).
async fn hand_off(request: Request) -> bool {
    let uri = request.uri().to_string();
    match spin_sdk::http::send::<_, Response>(request).await {
        Ok(response) if (200..300).contains(response.status()) => true,
        Ok(response) => {
            eprintln!("kiln sweep: {uri} answered {}", response.status());
            false
        }
        Err(e) => {
            eprintln!("kiln sweep: {uri}: {e}");
            false
        }
    }
}
