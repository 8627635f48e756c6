//! The three seed forms, embedded so the binary works (and the demo runs) without a `forms/`
//! folder next to it. The files under `forms/` are the same text.

/// (file name, TOML) of each seed form.
pub const SEED_FORMS: [(&str, &str); 3] = [
    ("1_branch.toml", include_str!("../../forms/1_branch.toml")),
    ("2_member.toml", include_str!("../../forms/2_member.toml")),
    ("3_window.toml", include_str!("../../forms/3_window.toml")),
];

/// The seed forms, parsed. They are tested at build time, so an error here is a bug.
pub fn seed_forms() -> Result<Vec<super::FormDef>, super::FormError> {
    SEED_FORMS
        .iter()
        .map(|(name, src)| super::parse(src, std::path::Path::new(name)))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_seed_forms_parse() {
        let ids: Vec<_> = super::seed_forms()
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(ids, ["branch", "member", "window"]);
    }
}
