//! Scoped upload tokens in the upload logic, on the in-memory world: an
//! upload created under a token remembers it, its formats are enforced on
//! the first chunk (tus) or the whole image (one-shot), and the token's
//! uses run out.

mod common;

use common::{kiln, metadata, patch, png, world};
use futures::executor::block_on;
use kiln_upload::tokens::{self, TokenRequest};
use kiln_upload::tus::NewUpload;

#[test]
fn a_scoped_upload_remembers_its_token_and_refuses_other_formats() {
    let w = world(7);
    let k = kiln(&w);
    let request = TokenRequest { formats: Some(vec!["jpeg".into()]), uploads: Some(2), ..Default::default() };
    let (token, grant) = block_on(k.issue_upload_token("master", &request)).unwrap();
    assert_eq!(tokens::verify(&tokens::signing_key("master"), &token, 0).unwrap(), grant);
    assert_eq!(grant.max_bytes, common::small_config().max_upload_bytes);

    // tus: the PNG's first chunk is refused (415) and nothing is stored.
    let data = png(16, 16, 3);
    block_on(k.spend_upload_token(&grant)).unwrap();
    let new = NewUpload { length: Some(data.len() as u64), metadata: metadata("a.png"), scope: Some(grant.scope()), ..NewUpload::default() };
    let id = block_on(k.tus_create(new)).unwrap().view.id;
    assert_eq!(block_on(k.record(&id)).unwrap().unwrap().grant, Some(grant.scope()));
    let Err(refused) = patch(&k, &id, 0, &data) else { panic!("a PNG under a jpeg-only token was accepted") };
    assert_eq!(refused.status(), 415, "{refused}");
    assert!(refused.to_string().contains("jpeg"), "{refused}");
    assert_eq!(block_on(k.tus_head(&id)).unwrap().offset, 0);

    // One-shot: the same, before anything is stored.
    let refused = block_on(k.post_image(Some("b.png"), data.clone(), Some(grant.scope()))).unwrap_err();
    assert_eq!(refused.status(), 415);

    // Without a scope (the master token) the PNG is fine.
    let done = block_on(k.post_image(Some("c.png"), data, None)).unwrap();
    assert_eq!(block_on(k.record(&done.id)).unwrap().unwrap().grant, None);

    // Two uploads were granted; one is spent above.
    block_on(k.spend_upload_token(&grant)).unwrap();
    assert_eq!(block_on(k.spend_upload_token(&grant)).unwrap_err().status(), 403);
}

#[test]
fn a_token_request_over_the_servers_limits_is_refused() {
    let w = world(8);
    let k = kiln(&w);
    let too_big = TokenRequest { max_bytes: Some(common::small_config().max_upload_bytes + 1), ..Default::default() };
    let e = block_on(k.issue_upload_token("master", &too_big)).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.to_string().contains("max_bytes"), "{e}");
    // An unregistered (e.g. revoked) grant cannot be spent.
    let stray = TokenRequest::default().grant(0, 100).unwrap();
    assert_eq!(block_on(k.spend_upload_token(&stray)).unwrap_err().status(), 403);
}
