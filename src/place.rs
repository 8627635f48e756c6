//! Where a page is, in the words a clerk reads: "box1.pdf pages 3, 7, 9–12", "bomb.png".
//!
//! The scan summary says each rejection reason once and lists the pages it hit, rather than a
//! line per page or a reason with its page number blanked out. A file of one page is named
//! without a page number: "page 1" would only send the clerk looking for the others.

/// A page of an input file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// The file as given to the scan.
    pub file: String,
    /// The page, 1-based; None in a file of one page, or when a reason is about the file.
    pub page: Option<u32>,
}

/// Runs of at least this many consecutive pages are written as a range ("9–12"); shorter ones
/// read better listed.
const RANGE_FROM: usize = 3;

/// "page 3", "pages 3, 7", "pages 9–12, 15" (sorted, each page once).
#[must_use]
pub fn pages(numbers: &[u32]) -> String {
    let mut n = numbers.to_vec();
    n.sort_unstable();
    n.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < n.len() {
        let mut j = i;
        while j + 1 < n.len() && n[j + 1] == n[j] + 1 {
            j += 1;
        }
        if j + 1 - i >= RANGE_FROM {
            parts.push(format!("{}–{}", n[i], n[j]));
        } else {
            parts.extend(n[i..=j].iter().map(u32::to_string));
        }
        i = j + 1;
    }
    let word = if n.len() == 1 { "page" } else { "pages" };
    format!("{word} {}", parts.join(", "))
}

/// The places grouped by file, files in order of first appearance: "box1.pdf pages 3, 7;
/// bomb.png". After `max_files` files the rest are counted: "… and 4 more files".
#[must_use]
pub fn list(places: &[Place], max_files: usize) -> String {
    let mut files: Vec<(&str, Vec<u32>)> = Vec::new();
    for p in places {
        let at = match files.iter().position(|(f, _)| *f == p.file) {
            Some(at) => at,
            None => {
                files.push((&p.file, Vec::new()));
                files.len() - 1
            }
        };
        files[at].1.extend(p.page);
    }
    let mut parts: Vec<String> = files
        .iter()
        .take(max_files)
        .map(|(f, n)| {
            if n.is_empty() {
                (*f).to_string()
            } else {
                format!("{f} {}", pages(n))
            }
        })
        .collect();
    if files.len() > max_files {
        parts.push(format!("… and {} more files", files.len() - max_files));
    }
    parts.join("; ")
}

/// A rejection reason without the place it starts with, and whether it was about the page.
///
/// Page errors start with their place — "box1.pdf: page 3: the image is …", or "bomb.png: the
/// image is …" in a file of one page — and errors about the whole file name only the file.
/// The reader's reasons name no place: they are about the page they were found on.
#[must_use]
pub fn strip<'a>(reason: &'a str, file: &str, page: u32) -> (&'a str, bool) {
    let Some(rest) = reason.strip_prefix(file).and_then(|r| r.strip_prefix(": ")) else {
        return (reason, true);
    };
    match rest.strip_prefix(&format!("page {page}: ")) {
        Some(what) => (what, true),
        None => (rest, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(file: &str, page: Option<u32>) -> Place {
        Place {
            file: file.to_string(),
            page,
        }
    }

    #[test]
    fn page_lists_sort_dedupe_and_shorten_runs() {
        assert_eq!(pages(&[3]), "page 3");
        assert_eq!(pages(&[7, 3]), "pages 3, 7");
        assert_eq!(pages(&[12, 9, 10, 11, 15, 9]), "pages 9–12, 15");
        assert_eq!(pages(&[1, 2, 4, 5]), "pages 1, 2, 4, 5");
    }

    #[test]
    fn places_group_by_file_and_a_one_page_file_has_no_page() {
        let places = [
            at("box1.pdf", Some(7)),
            at("bomb.png", None),
            at("box1.pdf", Some(3)),
            at("box2.pdf", Some(1)),
        ];
        assert_eq!(
            list(&places, 8),
            "box1.pdf pages 3, 7; bomb.png; box2.pdf page 1"
        );
        assert_eq!(list(&places, 1), "box1.pdf pages 3, 7; … and 2 more files");
    }

    #[test]
    fn a_reason_loses_its_place_and_says_whether_it_was_about_the_page() {
        let r = "scans/a.pdf: page 12: the image is 60000×60000 px";
        assert_eq!(
            strip(r, "scans/a.pdf", 12),
            ("the image is 60000×60000 px", true)
        );
        assert_eq!(
            strip("bomb.png: the image is 60000×60000 px", "bomb.png", 1),
            ("the image is 60000×60000 px", false)
        );
        assert_eq!(
            strip("no page code found", "scans/a.pdf", 3),
            ("no page code found", true)
        );
        // Another page's number stays: it is part of what the reason says.
        let end = "a.pdf: the file was cut short after page 8, and …";
        assert_eq!(
            strip(end, "a.pdf", 9),
            ("the file was cut short after page 8, and …", false)
        );
    }
}
