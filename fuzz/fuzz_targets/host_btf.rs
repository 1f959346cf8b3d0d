#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vitals::fuzzing::run("host_btf", data);
});
