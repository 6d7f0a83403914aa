//! cargo +nightly fuzz run decode_frame  (not run in CI; the stable property test
//! `arbitrary_bytes_never_panic` in tests/codec_props.rs covers the same contract).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aitrapp::feed::codec::decode_frame(data, |t| {
        std::hint::black_box(t);
    });
});
