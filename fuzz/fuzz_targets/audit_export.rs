//! Bytes into the evidence-file checker (`relay::audit::verify_export`), which
//! `relay audit verify-file` runs on files that may have been tampered with. Any file may
//! be refused or judged broken; none may panic, and a whole verdict is only given for a
//! file whose every line parsed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relay::audit::verify_export;

fuzz_target!(|data: &[u8]| {
    if let Ok(verdict) = verify_export(data) {
        assert_eq!(verdict.ok, verdict.first_bad.is_none());
        assert_eq!(verdict.ok, verdict.problem.is_none());
    }
});
