//! Shared helpers of the upload crate's tests: an in-memory world with
//! small limits, real (tiny) PNG images, and a client that speaks tus to a
//! [`Kiln`] directly.
#![allow(dead_code)]

use futures::executor::block_on;
use kiln_upload::manifest::Manifest;
use kiln_upload::memory::{MemWorld, Memory};
use kiln_upload::tus::{Begun, NewUpload};
use kiln_upload::{Kiln, UploadConfig, UploadError};

/// Limits small enough that a few hundred bytes make many chunks and parts.
pub fn small_config() -> UploadConfig {
    UploadConfig {
        max_upload_bytes: 64 * 1024,
        max_request_bytes: 4096,
        min_chunk_bytes: 16,
        min_part_bytes: 64,
        max_pixels: 10_000,
        expiry_ms: 60_000,
        lock_ms: 5_000,
        lease_ms: 10_000,
        max_attempts: 3,
        retry_ms: 1_000,
        sweep_page: 50,
        orphan_grace_ms: 2_000,
        ..UploadConfig::default()
    }
}

/// A world whose store enforces the small config's part size.
pub fn world(seed: u64) -> MemWorld {
    let mut world = MemWorld::new(seed, 0.0);
    world.objects.min_part_bytes = small_config().min_part_bytes;
    world.converters = kiln_upload::memory::MemConverters::new(world.objects.clone(), world.chaos.clone());
    world
}

pub fn kiln(world: &MemWorld) -> Kiln<Memory> {
    world.instance(small_config())
}

/// A real PNG of `width`×`height` noise (so it does not compress away).
pub fn png(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().unwrap();
    let pixels: Vec<u8> = (0..width * height * 3).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed).rotate_left(i % 7)).collect();
    writer.write_image_data(&pixels).unwrap();
    drop(writer);
    out
}

pub fn metadata(filename: &str) -> String {
    use base64::Engine;
    format!("filename {}", base64::engine::general_purpose::STANDARD.encode(filename))
}

/// Creates a whole upload of `len` bytes; returns its id.
pub fn create(kiln: &Kiln<Memory>, len: usize) -> String {
    let new = NewUpload { length: Some(len as u64), metadata: metadata("photo.png"), ..NewUpload::default() };
    block_on(kiln.tus_create(new)).unwrap().view.id
}

/// One PATCH of `body` at `offset`: the offset after it, and the work to
/// run if it completed the upload (not run).
pub fn patch(kiln: &Kiln<Memory>, id: &str, offset: usize, body: &[u8]) -> Result<(u64, Option<kiln_upload::pipeline::Work>), UploadError> {
    block_on(async {
        match kiln.tus_begin(id, offset as u64, Some(body.len() as u64)).await? {
            Begun::Noop(view) => Ok((view.offset, None)),
            Begun::Locked(ticket) => {
                let patched = kiln.tus_commit(ticket, body, None).await?;
                Ok((patched.view.offset, patched.work))
            }
        }
    })
}

/// Uploads `data` in `chunk`-byte PATCHes and runs the work: the manifest.
pub fn upload(kiln: &Kiln<Memory>, data: &[u8], chunk: usize) -> Manifest {
    let id = create(kiln, data.len());
    let mut work = None;
    for (i, piece) in data.chunks(chunk).enumerate() {
        let (offset, w) = patch(kiln, &id, i * chunk, piece).unwrap();
        assert_eq!(offset as usize, i * chunk + piece.len());
        work = w;
    }
    block_on(kiln.run(work.expect("the last PATCH hands over the work"))).unwrap()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    kiln_upload::ids::hex(&sha2::Sha256::digest(bytes))
}
