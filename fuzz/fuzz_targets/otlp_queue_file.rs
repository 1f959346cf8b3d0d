#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vitals::fuzzing::run("otlp_queue_file", data);
});
