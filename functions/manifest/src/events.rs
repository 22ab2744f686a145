//! `POST /v1/events`: object-storage notifications (S3, MinIO, Tigris, R2),
//! authenticated with their own token (`events_token`, never the API's).
//! Everything that must not be lost is recorded before the 202; if storage
//! or state is down the notifier gets an error and delivers again. The
//! conversions run after the answer.

use kiln_spin::body::{drain, read_capped};
use kiln_spin::config::{var, Config};
use kiln_spin::http::{authorize, content_length, json, respond, ApiError};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};

/// Largest notification body accepted (AWS caps a message at 64 KB).
const MAX_EVENT_BYTES: u64 = 1024 * 1024;

pub async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let accepted = async {
        let config = Config::load()?;
        if let Err(e) = authorize(&req, &var("events_token")?, "events_token") {
            drain(req).await;
            return Err(e);
        }
        let declared = content_length(&req);
        let body = read_capped(req.into_body_stream(), declared, MAX_EVENT_BYTES, "event body").await?;
        let kiln = kiln_spin::kiln(&config)?;
        let accepted = kiln.accept_events(&body).await?;
        Ok::<_, ApiError>((kiln, accepted))
    }
    .await;
    let (kiln, accepted) = match accepted {
        Ok(accepted) => accepted,
        Err(e) => {
            eprintln!("kiln events: {} {}: {}", e.status, e.code, e.detail);
            return respond(out, e.into_response()).await;
        }
    };
    let receipt = serde_json::json!({ "accepted": accepted.keys, "ignored": accepted.ignored });
    respond(out, json(202, &receipt)).await;
    // The notifier has its answer; the conversions run now.
    for work in accepted.work {
        let id = work.id.clone();
        if let Err(e) = kiln.run(work).await {
            eprintln!("kiln events: {id}: {e} (re-driven later)");
        }
    }
}
