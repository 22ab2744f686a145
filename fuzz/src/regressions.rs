//! The regression tests' list of committed fuzz inputs, shared by
//! crates/core/tests/fuzz_regressions.rs and crates/upload/tests/
//! fuzz_regressions.rs (included by path, with `#[macro_use]`). Each of
//! those defines `folder()` (its `tests/fuzz-regressions/`) and `run(name)`.

/// One test per committed input: `test_name => "file name"`, attributes
/// (a doc comment saying what the input is, `#[ignore = ...]`) before it;
/// plus `every_input_has_a_test`, which fails when a file in `folder()`
/// has no test.
macro_rules! regressions {
    ($($(#[$attr:meta])* $test:ident => $file:literal,)*) => {
        $(
            $(#[$attr])*
            #[test]
            fn $test() {
                run($file);
            }
        )*

        #[test]
        fn every_input_has_a_test() {
            const FILES: &[&str] = &[$($file),*];
            let Ok(dir) = std::fs::read_dir(folder()) else { return };
            for entry in dir {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(FILES.contains(&name.as_str()), "tests/fuzz-regressions/{name} has no test in fuzz_regressions.rs");
            }
        }
    };
}
