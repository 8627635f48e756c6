//! JSON: the whole tally, plus a `marking` field ("未复核 PROVISIONAL…" or null).

use super::marking;
use crate::tally::Tally;

pub fn render(t: &Tally) -> Result<String, serde_json::Error> {
    let mut v = serde_json::to_value(t)?;
    if let serde_json::Value::Object(m) = &mut v {
        m.insert(
            "marking".into(),
            marking(t).map_or(serde_json::Value::Null, serde_json::Value::String),
        );
    }
    serde_json::to_string_pretty(&v)
}
