//! Breaking printed text into lines by the Chinese line-breaking rules (行首行尾禁则).
//!
//! Chinese text breaks between any two characters, except that closing punctuation (。，、；：
//! ？！）」』” …) never starts a line and opening punctuation (（「『“ …) never ends one. When a
//! line would break there, the character before is pulled down to the next line with the
//! punctuation, so the line ends a little short; a line that cannot give a character up lets
//! the punctuation hang past the width instead.

/// Characters that must not start a line: closing and pausing punctuation, full- and
/// half-width (GB/T 15834 and the usual 禁则 tables).
const NO_LINE_START: &str = "。，、；：？！）」』”’》〉】〕〗］｝．…—～·%,.;:?!)]}";

/// Characters that must not end a line: opening punctuation.
const NO_LINE_END: &str = "（「『“‘《〈【〔〖［｛([{";

/// Whether `c` may not begin a line.
#[must_use]
pub fn no_line_start(c: char) -> bool {
    NO_LINE_START.contains(c)
}

/// Whether `c` may not end a line.
#[must_use]
pub fn no_line_end(c: char) -> bool {
    NO_LINE_END.contains(c)
}

/// Break `text` into lines no wider than `width` (in the unit of `advance`, the width of one
/// character), character by character as Chinese is set, by the rules above.
pub fn lines(text: &str, width: f64, advance: impl Fn(char) -> f64) -> Vec<String> {
    let mut out: Vec<Vec<char>> = Vec::new();
    let mut cur: Vec<char> = Vec::new();
    let mut w = 0.0;
    for c in text.chars() {
        let cw = advance(c);
        if w + cw > width && !cur.is_empty() {
            // Without a place to break, `c` joins this line past the width (it hangs).
            if let Some(next) = carry(&mut cur, c) {
                out.push(std::mem::replace(&mut cur, next));
                w = cur.iter().map(|&k| advance(k)).sum();
            }
        }
        cur.push(c);
        w += cw;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter().map(|l| l.into_iter().collect()).collect()
}

/// Breaking `line` before `next`: takes from the end of `line` the characters the next line
/// must start with, so that it does not start with `next` or another character that may not
/// start a line, and `line` does not end with one that may not end it. None, with `line`
/// untouched, when every character would have to go.
fn carry(line: &mut Vec<char>, next: char) -> Option<Vec<char>> {
    let mut keep = line.len();
    let mut first = next;
    while keep > 0 && (no_line_start(first) || no_line_end(line[keep - 1])) {
        keep -= 1;
        first = line[keep];
    }
    (keep > 0).then(|| line.split_off(keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character one unit wide, lines of `n` units.
    fn wrap(text: &str, n: usize) -> Vec<String> {
        lines(text, n as f64, |_| 1.0)
    }

    fn assert_breaks_well(lines: &[String]) {
        for (i, l) in lines.iter().enumerate() {
            let first = l.chars().next().unwrap();
            let last = l.chars().last().unwrap();
            assert!(
                i == 0 || !no_line_start(first),
                "line {i} starts with {first}: {lines:?}"
            );
            assert!(
                i + 1 == lines.len() || !no_line_end(last),
                "line {i} ends with {last}: {lines:?}"
            );
        }
    }

    #[test]
    fn a_full_stop_at_a_break_takes_the_character_before_it_down() {
        let l = wrap("请在意见栏中录入。谢谢", 8);
        assert_eq!(l, ["请在意见栏中录", "入。谢谢"]);
        assert_breaks_well(&l);
    }

    #[test]
    fn closing_marks_in_a_row_move_together_with_the_character_before() {
        let l = wrap("栏目中打“√”，对有", 6);
        assert_breaks_well(&l);
        assert_eq!(l.concat(), "栏目中打“√”，对有");
        assert_eq!(l[0], "栏目中打");
    }

    #[test]
    fn an_opening_mark_never_ends_a_line() {
        let l = wrap("联系电话：123（传真456）", 7);
        assert_breaks_well(&l);
        assert_eq!(l.concat(), "联系电话：123（传真456）");
        assert!(l.iter().all(|x| x.chars().count() <= 7), "{l:?}");
    }

    #[test]
    fn text_without_marks_breaks_at_the_width_and_a_line_of_marks_hangs() {
        assert_eq!(wrap("一二三四五六七", 3), ["一二三", "四五六", "七"]);
        // Nothing to pull down: the marks stay on their line, past the width.
        assert_eq!(wrap("。。。。", 2), ["。。。。"]);
        assert!(wrap("", 5).is_empty());
    }
}
