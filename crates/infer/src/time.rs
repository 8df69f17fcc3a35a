/// The current time as RFC 3339 UTC with seconds (`2024-05-01T12:00:00Z`), as Custom Vision's JSON has it.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
