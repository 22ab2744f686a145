//! Fuzz target `sniff_probe`: format sniffing, header probing and the EXIF
//! orientation read on arbitrary bytes — everything that runs before the
//! memory estimate (`kiln_fuzz::calls::sniff_probe` says what is checked).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzz::calls::sniff_probe(data));
