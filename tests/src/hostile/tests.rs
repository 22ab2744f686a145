//! Unit tests of the generator: the committed corpus equals its output,
//! the hand-written DEFLATE streams are valid for two independent
//! inflaters and inflate to what they promise, the files stay small, and
//! every file that must convert decodes with its format's reference crate
//! (so a failure to convert it is kiln's, not the generator's).

use super::*;
use std::io::Cursor;

#[test]
fn committed_corpus_matches_the_generator() {
    let dir = crate::repo_root().join("tests/hostile");
    let cases = all();
    let mut problems = Vec::new();
    for c in &cases {
        match std::fs::read(dir.join(&c.name)) {
            Ok(bytes) if bytes == c.bytes => {}
            Ok(bytes) => problems.push(format!("{}: the committed {} bytes differ from the generated {}", c.name, bytes.len(), c.bytes.len())),
            Err(e) => problems.push(format!("{}: {e}", c.name)),
        }
    }
    let stale = stale_files(&dir, &cases).unwrap_or_default();
    problems.extend(stale.into_iter().map(|name| format!("{name}: not made by the generator")));
    if std::fs::read_to_string(dir.join("INDEX.md")).ok() != Some(index_markdown(&cases)) {
        problems.push("INDEX.md differs from the generated one".into());
    }
    assert!(
        problems.is_empty(),
        "tests/hostile/ drifted from the generator; regenerate with \
         `cargo run -p kiln-e2e --bin kiln-hostile-corpus -- tests/hostile`:\n{}",
        problems.join("\n")
    );
}

/// Inflates `stream` with the png crate's inflater (fdeflate), as the
/// iCCP profile of a 1×1 PNG.
fn inflate_as_iccp(stream: &[u8]) -> Vec<u8> {
    let mut data = b"p\0\0".to_vec();
    data.extend_from_slice(stream);
    let mut file = png::MAGIC.to_vec();
    file.extend(png::chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]));
    file.extend(png::chunk(b"iCCP", &data));
    file.extend(png::chunk(b"IDAT", &bits::zlib_stored(&[0, 0, 0, 0])));
    file.extend(png::chunk(b"IEND", &[]));
    let reader = ::png::Decoder::new(Cursor::new(file)).read_info().expect("PNG with the stream as iCCP");
    reader.info().icc_profile.as_ref().expect("iCCP inflated").to_vec()
}

#[test]
fn zero_streams_inflate_to_exactly_what_they_promise() {
    for n in [1, 2, 258, 259, 260, 100_000] {
        let stream = bits::zlib_zeros(n);
        let want = bits::zeros_inflated_len(n) as usize;
        assert!(want as u64 >= n && want < n as usize + 258);
        let by_miniz = miniz_oxide::inflate::decompress_to_vec_zlib(&stream).expect("miniz_oxide inflates it");
        assert_eq!(by_miniz.len(), want, "miniz_oxide, {n}");
        assert!(by_miniz.iter().all(|&b| b == 0));
        assert_eq!(inflate_as_iccp(&stream), vec![0; want], "fdeflate, {n}");
    }
    // The ratio the bombs rely on: 300 MB from under 300 KB.
    assert!(bits::zlib_zeros(300_000_000).len() < 300_000);
}

#[test]
fn stored_streams_round_trip() {
    for data in [vec![], vec![7; 10], bits::Rng::new(9).bytes(200_000)] {
        assert_eq!(miniz_oxide::inflate::decompress_to_vec_zlib(&bits::zlib_stored(&data)).unwrap(), data);
    }
}

#[test]
fn files_are_small() {
    let cases = all();
    for c in &cases {
        assert!(c.bytes.len() <= 1_100_000, "{} is {} bytes", c.name, c.bytes.len());
    }
    let total: usize = cases.iter().map(|c| c.bytes.len()).sum();
    assert!(total < 8_000_000, "the corpus is {total} bytes");
}

/// Decodes `bytes` with the reference crate of its extension's format.
fn reference_decode(name: &str, bytes: &[u8]) -> Result<(), String> {
    match name.rsplit('.').next() {
        Some("png") => {
            let mut reader = ::png::Decoder::new(Cursor::new(bytes)).read_info().map_err(|e| e.to_string())?;
            let mut buf = vec![0; reader.output_buffer_size().ok_or("size")?];
            reader.next_frame(&mut buf).map(|_| ()).map_err(|e| e.to_string())
        }
        Some("gif") => {
            let mut decoder = ::gif::DecodeOptions::new().read_info(Cursor::new(bytes)).map_err(|e| e.to_string())?;
            decoder.read_next_frame().map_err(|e| e.to_string())?.map(|_| ()).ok_or_else(|| "no frame".into())
        }
        Some("webp") => {
            let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
            let mut buf = vec![0; decoder.output_buffer_size().ok_or("size")?];
            decoder.read_image(&mut buf).map_err(|e| e.to_string())
        }
        Some("jpg") => jpeg_decoder::Decoder::new(bytes).decode().map(|_| ()).map_err(|e| e.to_string()),
        other => Err(format!("no reference decoder for {other:?}")),
    }
}

#[test]
fn files_that_must_convert_decode_with_their_reference_crate() {
    let failures: Vec<String> = all()
        .iter()
        .filter(|c| c.expect == [Answer::Image])
        .filter_map(|c| reference_decode(&c.name, &c.bytes).err().map(|e| format!("{}: {e}", c.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_file_says_what_it_is_and_what_kiln_answers() {
    for c in all() {
        assert!(!c.expect.is_empty() && c.description.len() > 20, "{}", c.name);
        assert!(!c.description.contains('\n'), "{}: one line", c.name);
    }
}
