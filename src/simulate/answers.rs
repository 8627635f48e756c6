//! What one respondent means and puts on paper: per question an intent and the marks drawn,
//! planned as data before any pixel is touched (so the truth is exact by construction).
//!
//! Respondents mostly tick 满意/比较满意 (a third tick the first column straight down), leave
//! a few questions blank, and now and then correct themselves, tick two boxes or draw ✗ or
//! fill a box. On 附2 most sheets recommend at most five candidates; a few recommend six or
//! more. On 附3 posts the unit has no dealings with are left wholly blank, some partly.

use super::profile::People;
use super::truth::{CellTruth, Drawn, Intended, QuestionTruth, SheetTruth, WritingTruth};
use crate::form::SubjectKind;
use crate::layout::{AnswerCell, Layout};
use crate::units::RectMm;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Share of respondents who tick the first option of every question.
const STRAIGHT_LINERS: f64 = 0.3;
/// Each further option is this much less likely than the one before (satisfied ≫ unsatisfied).
const OPTION_DECAY: f64 = 0.42;
/// 附3: share of posts left wholly blank (unit not related), and partly blank.
const POST_BLANK: f64 = 0.2;
const POST_PARTIAL: f64 = 0.1;
/// Share of items left blank inside a partly answered post.
const PARTIAL_ITEM_BLANK: f64 = 0.4;
/// 附2: share of sheets recommending more than the five allowed.
const OVER_RECOMMEND: f64 = 0.05;
/// Weights of recommending 0, 1, …, 5 candidates (most recommend several).
const RECOMMEND_WEIGHTS: [f64; 6] = [0.05, 0.1, 0.2, 0.25, 0.2, 0.2];
/// Share of sheets writing in a flagged box (附3 integrity), a large text box, a short field.
const WRITE_FLAGGED: f64 = 0.03;
const WRITE_BOX: f64 = 0.15;
const WRITE_FIELD: f64 = 0.5;
/// A text box taller than this (mm) is a comment box, not a one-line field.
const FIELD_MAX_H: f64 = 15.0;
/// Two boxes side by side this close (gap in box sides) can be ticked across at once: a hand
/// draws a ✓ up to ≈ 3 box sides wide, not across a wide table cell.
const STRADDLE_GAP: f64 = 2.0;

/// One mark to draw on a page.
#[derive(Debug, Clone)]
pub struct PlannedMark {
    pub page: u32,
    pub tick: RectMm,
    /// The other box a straddling tick reaches into.
    pub partner: Option<RectMm>,
    pub drawn: Drawn,
}

/// One sheet: its truth and what to draw.
#[derive(Debug, Clone)]
pub struct SheetPlan {
    pub truth: SheetTruth,
    pub marks: Vec<PlannedMark>,
    /// Writing areas to scribble in: (page, area).
    pub writing: Vec<(u32, RectMm)>,
}

/// A question's cells in layout order, with the page they are on.
struct Question<'a> {
    id: &'a str,
    subject: Option<&'a str>,
    page: u32,
    cells: Vec<&'a AnswerCell>,
}

fn questions(layout: &Layout) -> Vec<Question<'_>> {
    let mut order: Vec<Question> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (page, c) in layout.cells() {
        let i = *index.entry(c.question.as_str()).or_insert_with(|| {
            order.push(Question {
                id: &c.question,
                subject: c.subject.as_deref(),
                page,
                cells: Vec::new(),
            });
            order.len() - 1
        });
        order[i].cells.push(c);
    }
    order
}

/// Pick an option index: geometric weights favouring the first.
fn pick_option(rng: &mut ChaCha8Rng, n: usize, straight: bool) -> usize {
    if straight || n <= 1 {
        return 0;
    }
    let weights: Vec<f64> = (0..n).map(|k| OPTION_DECAY.powi(k as i32)).collect();
    let total: f64 = weights.iter().sum();
    let mut x = rng.random_range(0.0..total);
    for (k, w) in weights.iter().enumerate() {
        if x < *w {
            return k;
        }
        x -= w;
    }
    n - 1
}

/// Cases forced on the first sheets of a simulation, so a demo shows them whatever the seed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Force {
    /// The first N 附2 sheets recommend more than five candidates (推荐无效).
    pub over_recommend: u32,
    /// The first N sheets write in their flagged box (附3's integrity box).
    pub flagged_writing: u32,
}

/// What is forced on one sheet.
#[derive(Debug, Clone, Copy, Default)]
pub struct SheetForce {
    pub over_recommend: bool,
    pub flagged_writing: bool,
}

impl Force {
    #[must_use]
    pub fn for_sheet(&self, i: usize) -> SheetForce {
        SheetForce {
            over_recommend: i < self.over_recommend as usize,
            flagged_writing: i < self.flagged_writing as usize,
        }
    }
}

/// How many and which candidates one 附2 sheet recommends.
fn recommended<'a>(rng: &mut ChaCha8Rng, candidates: &[&'a str], over: bool) -> BTreeSet<&'a str> {
    let m = candidates.len();
    let k = if m > 5 && (over || rng.random_bool(OVER_RECOMMEND)) {
        rng.random_range(6..=m)
    } else {
        let total: f64 = RECOMMEND_WEIGHTS.iter().sum();
        let mut x = rng.random_range(0.0..total);
        let mut k = 0;
        for (i, w) in RECOMMEND_WEIGHTS.iter().enumerate() {
            if x < *w {
                k = i;
                break;
            }
            x -= w;
        }
        k.min(m)
    };
    let mut c = candidates.to_vec();
    c.shuffle(rng);
    c.into_iter().take(k).collect()
}

/// Plan one sheet of `layout` (form subject kind `subject`) with the habits `people`.
pub fn plan_sheet(
    rng: &mut ChaCha8Rng,
    layout: &Layout,
    subject: SubjectKind,
    people: &People,
    serial: &str,
    force: SheetForce,
) -> SheetPlan {
    let qs = questions(layout);
    let straight = rng.random_bool(STRAIGHT_LINERS);
    let candidates: Vec<&str> = {
        let mut s: Vec<&str> = qs
            .iter()
            .filter(|q| q.cells.len() == 1)
            .filter_map(|q| q.subject)
            .filter(|s| !s.starts_with("_w"))
            .collect();
        s.dedup();
        s
    };
    let recommend = recommended(rng, &candidates, force.over_recommend);
    // Posts: decide per subject whether it is skipped wholly or partly.
    let mut post_mode: BTreeMap<&str, u8> = BTreeMap::new();
    let mut out = SheetPlan {
        truth: SheetTruth {
            serial: serial.to_string(),
            questions: Vec::new(),
            writing: Vec::new(),
        },
        marks: Vec::new(),
        writing: Vec::new(),
    };

    for q in &qs {
        let write_in = q.subject.is_some_and(|s| s.starts_with("_w"));
        let skip = if subject == SubjectKind::Posts {
            let s = q.subject.unwrap_or("");
            let mode = *post_mode.entry(s).or_insert_with(|| {
                let x: f64 = rng.random();
                u8::from(x < POST_BLANK + POST_PARTIAL) + u8::from(x < POST_BLANK)
            });
            mode == 2 || (mode == 1 && rng.random_bool(PARTIAL_ITEM_BLANK))
        } else {
            false
        };
        let check = q.cells.len() == 1;
        let (intended, drawn) =
            if write_in || skip || (check && !q.subject.is_some_and(|s| recommend.contains(s))) {
                (Planned::Blank, vec![Drawn::None; q.cells.len()])
            } else {
                let pairs = straddle_pairs(&q.cells);
                plan_question(rng, q.cells.len(), check, straight, people, &pairs)
            };
        let mut cells = Vec::with_capacity(q.cells.len());
        for (k, (c, d)) in q.cells.iter().zip(&drawn).enumerate() {
            // A straddling tick is one stroke: drawn from the first of its two boxes.
            let partner = (*d == Drawn::Straddle)
                .then(|| q.cells.get(k + 1))
                .flatten()
                .filter(|_| drawn.get(k + 1) == Some(&Drawn::Straddle));
            let second_half = *d == Drawn::Straddle && k > 0 && drawn[k - 1] == Drawn::Straddle;
            if *d != Drawn::None && !second_half {
                out.marks.push(PlannedMark {
                    page: q.page,
                    tick: c.tick,
                    partner: partner.map(|p| p.tick),
                    drawn: *d,
                });
            }
            cells.push(CellTruth {
                option: c.option.clone(),
                drawn: *d,
            });
        }
        let intended = match intended {
            Planned::Answer(k) => Intended::Answer {
                option: q.cells[k].option.clone(),
            },
            Planned::Blank => Intended::Blank,
            Planned::Ambiguous(k) => Intended::Ambiguous {
                likely: k.map(|k| q.cells[k].option.clone()),
            },
        };
        out.truth.questions.push(QuestionTruth {
            question: q.id.to_string(),
            page: q.page,
            intended,
            cells,
            blank_ok: false,
        });
    }

    add_specks(rng, layout, people, &mut out);

    for p in &layout.pages {
        for w in &p.writing {
            let chance = if w.flag.is_some() {
                WRITE_FLAGGED
            } else if w.rect.h > FIELD_MAX_H {
                WRITE_BOX
            } else {
                WRITE_FIELD
            };
            let written = rng.random_bool(chance) || (force.flagged_writing && w.flag.is_some());
            if written {
                out.writing.push((p.number, w.rect));
            }
            out.truth.writing.push(WritingTruth {
                id: w.id.clone(),
                page: p.number,
                written,
            });
        }
    }
    out
}

/// Stray dots and specks: on boxes nothing else was drawn in, recorded as `speck`.
fn add_specks(rng: &mut ChaCha8Rng, layout: &Layout, people: &People, out: &mut SheetPlan) {
    for p in &layout.pages {
        // Poisson-like count: the mean spread over a few coin tosses.
        let tries = (people.specks_per_page * 2.0).ceil() as usize;
        let n = (0..tries).filter(|_| rng.random_bool(0.5)).count();
        for _ in 0..n {
            if p.cells.is_empty() {
                break;
            }
            let c = &p.cells[rng.random_range(0..p.cells.len())];
            let Some(q) = out
                .truth
                .questions
                .iter_mut()
                .find(|q| q.question == c.question)
            else {
                continue;
            };
            let Some(cell) = q.cells.iter_mut().find(|x| x.option == c.option) else {
                continue;
            };
            if cell.drawn == Drawn::None {
                cell.drawn = Drawn::Speck;
                out.marks.push(PlannedMark {
                    page: p.number,
                    tick: c.tick,
                    partner: None,
                    drawn: Drawn::Speck,
                });
            }
        }
    }
}

/// Options `k` whose box and the next one's sit side by side, close enough to tick across.
fn straddle_pairs(cells: &[&AnswerCell]) -> Vec<usize> {
    cells
        .windows(2)
        .enumerate()
        .filter(|(_, w)| {
            let (a, b) = (w[0].tick, w[1].tick);
            let side = a.w.min(a.h);
            let same_row = (a.center().y - b.center().y).abs() < side / 2.0;
            let gap = b.x - a.right();
            same_row && gap > 0.0 && gap <= STRADDLE_GAP * side
        })
        .map(|(k, _)| k)
        .collect()
}

enum Planned {
    Answer(usize),
    Blank,
    Ambiguous(Option<usize>),
}

/// Intent and drawing for one answered question of `n` options; `pairs` are the options whose
/// box and the next one's can be ticked across (see `straddle_pairs`).
fn plan_question(
    rng: &mut ChaCha8Rng,
    n: usize,
    check: bool,
    straight: bool,
    p: &People,
    pairs: &[usize],
) -> (Planned, Vec<Drawn>) {
    let mut drawn = vec![Drawn::None; n];
    let a = pick_option(rng, n, straight);
    let other = |rng: &mut ChaCha8Rng| (a + rng.random_range(1..n.max(2))) % n;
    let x: f64 = rng.random();
    let mut edge = 0.0;
    let mut next = |rate: f64| {
        edge += rate;
        x < edge
    };
    // A check item was already decided "yes": it is never blank or overvoted.
    let blank = if check { 0.0 } else { p.blank };
    let (overvote, correction) = if check || n < 2 {
        (0.0, 0.0)
    } else {
        (p.overvote, p.correction)
    };
    if next(blank) {
        return (Planned::Blank, drawn);
    }
    if next(overvote) {
        let b = other(rng);
        drawn[a] = Drawn::Tick;
        drawn[b] = Drawn::Tick;
        return (Planned::Ambiguous(None), drawn);
    }
    if next(correction) {
        let b = other(rng);
        drawn[b] = Drawn::Scribble;
        drawn[a] = Drawn::Tick;
        return (Planned::Ambiguous(Some(a)), drawn);
    }
    if next(p.faint) {
        drawn[a] = Drawn::Faint;
        return (Planned::Ambiguous(Some(a)), drawn);
    }
    if next(p.outside) {
        drawn[a] = Drawn::Outside;
        return (Planned::Ambiguous(Some(a)), drawn);
    }
    if next(p.cross) {
        drawn[a] = Drawn::Cross;
        return (Planned::Answer(a), drawn);
    }
    if next(p.fill) {
        drawn[a] = Drawn::Fill;
        return (Planned::Answer(a), drawn);
    }
    // The field sample's kinds come last, so a seed's other choices stay what they were.
    if next(p.pencil) {
        drawn[a] = Drawn::Pencil;
        return (Planned::Ambiguous(Some(a)), drawn);
    }
    if next(p.dot) {
        drawn[a] = Drawn::Dot;
        return (Planned::Ambiguous(Some(a)), drawn);
    }
    // Across the pair holding the chosen option, else the first pair (no extra draw).
    let pair = pairs
        .iter()
        .find(|&&k| k == a || k + 1 == a)
        .or(pairs.first());
    if let (true, Some(&k)) = (next(p.straddle), pair) {
        drawn[k] = Drawn::Straddle;
        drawn[k + 1] = Drawn::Straddle;
        return (Planned::Ambiguous(None), drawn);
    }
    drawn[a] = Drawn::Tick;
    (Planned::Answer(a), drawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::profile::Profile;
    use rand::SeedableRng;

    #[test]
    fn most_answers_are_satisfied_and_check_items_never_overvote() {
        let p = Profile::Hard.people();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut first = 0;
        for _ in 0..2000 {
            let (planned, drawn) = plan_question(&mut rng, 4, false, false, &p, &[0, 1, 2]);
            if matches!(planned, Planned::Answer(0)) {
                first += 1;
            }
            assert!(drawn.iter().filter(|d| **d != Drawn::None).count() <= 2);
        }
        assert!(first > 900 && first < 1400, "{first}");
        for _ in 0..500 {
            let (planned, drawn) = plan_question(&mut rng, 1, true, false, &p, &[]);
            assert!(!matches!(
                planned,
                Planned::Blank | Planned::Ambiguous(None)
            ));
            assert_ne!(drawn[0], Drawn::None);
        }
    }

    #[test]
    fn recommendations_are_mostly_five_or_fewer_but_sometimes_more() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c = ["a", "b", "c", "d", "e", "f", "g"];
        let counts: Vec<usize> = (0..1000)
            .map(|_| recommended(&mut rng, &c, false).len())
            .collect();
        let over = counts.iter().filter(|&&k| k > 5).count();
        assert!(over > 10 && over < 120, "{over}");
    }

    #[test]
    fn pencil_dots_and_straddles_come_at_their_rates_with_their_intent() {
        let p = Profile::Hard.people();
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let n = 40_000;
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for _ in 0..n {
            let (planned, drawn) = plan_question(&mut rng, 4, false, false, &p, &[0, 1, 2]);
            let kind = match (&planned, drawn.as_slice()) {
                (Planned::Ambiguous(Some(a)), d) if d[*a] == Drawn::Pencil => "pencil",
                (Planned::Ambiguous(Some(a)), d) if d[*a] == Drawn::Dot => "dot",
                (Planned::Ambiguous(None), d) if d.contains(&Drawn::Straddle) => {
                    // Two neighbours, nothing else.
                    let k = d.iter().position(|x| *x == Drawn::Straddle).unwrap();
                    assert_eq!(d[k + 1], Drawn::Straddle);
                    assert_eq!(d.iter().filter(|x| **x != Drawn::None).count(), 2);
                    "straddle"
                }
                _ => continue,
            };
            *seen.entry(kind).or_default() += 1;
        }
        let share = |k: &str| seen.get(k).copied().unwrap_or(0) as f64 / f64::from(n);
        for (k, want) in [
            ("pencil", p.pencil),
            ("dot", p.dot),
            ("straddle", p.straddle),
        ] {
            assert!(
                share(k) > want * 0.7 && share(k) < want * 1.3,
                "{k}: {:.4} vs {want}",
                share(k)
            );
        }
        // No pair of boxes close enough: no straddle.
        for _ in 0..5_000 {
            let (_, drawn) = plan_question(&mut rng, 4, false, false, &p, &[]);
            assert!(!drawn.contains(&Drawn::Straddle));
        }
    }

    fn cell(option: &str, x: f64) -> AnswerCell {
        AnswerCell {
            question: "q".into(),
            subject: None,
            item: "q".into(),
            option: option.into(),
            tick: RectMm::new(x, 50.0, 5.0, 5.0),
            cell: RectMm::new(x - 4.0, 47.5, 12.9, 10.0),
        }
    }

    #[test]
    fn only_boxes_a_hands_width_apart_can_be_ticked_across() {
        // 附2: boxes 12.9 mm apart (7.9 mm gaps); 附3: 21.5 mm apart.
        let tight: Vec<AnswerCell> = (0..4)
            .map(|k| cell("o", 50.0 + 12.9 * f64::from(k)))
            .collect();
        let wide: Vec<AnswerCell> = (0..4)
            .map(|k| cell("o", 50.0 + 21.5 * f64::from(k)))
            .collect();
        assert_eq!(
            straddle_pairs(&tight.iter().collect::<Vec<_>>()),
            vec![0, 1, 2]
        );
        assert!(straddle_pairs(&wide.iter().collect::<Vec<_>>()).is_empty());
    }
}
