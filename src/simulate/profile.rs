//! The three realism profiles: how people fill the form in and how the scanner treats it.
//!
//! Rates are per question (answers) or per page (scanner). `office` is what a city office's
//! copier-scanner produces from forms filled in with ballpoint pens; `clean` is a careful
//! respondent on a flatbed; `hard` is the worst that still happens in practice.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    Clean,
    Office,
    Hard,
}

impl Profile {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::Office => "office",
            Self::Hard => "hard",
        }
    }

    #[must_use]
    pub fn people(self) -> People {
        match self {
            // The designed-ambiguous rates stay well below each profile's flag budget
            // (clean ≤ 0.3 %, office ≤ 1 %) so the reader has room for its own flags.
            Self::Clean => People {
                blank: 0.02,
                overvote: 0.000_5,
                correction: 0.001,
                faint: 0.0,
                outside: 0.0,
                cross: 0.04,
                fill: 0.01,
                pencil: 0.0,
                dot: 0.0,
                straddle: 0.0,
                specks_per_page: 0.5,
                offset_sd: 0.08,
                size: (0.7, 1.1),
            },
            Self::Office => People {
                blank: 0.03,
                overvote: 0.002,
                correction: 0.003,
                faint: 0.0,
                outside: 0.0,
                cross: 0.06,
                fill: 0.02,
                // The field sample's kinds at a tenth of hard's rates: together ≈ 0.25 %.
                pencil: 0.001,
                dot: 0.001,
                straddle: 0.000_5,
                specks_per_page: 2.0,
                offset_sd: 0.14,
                size: (0.5, 1.4),
            },
            Self::Hard => People {
                blank: 0.05,
                overvote: 0.006,
                correction: 0.01,
                faint: 0.01,
                outside: 0.01,
                cross: 0.08,
                fill: 0.03,
                pencil: 0.01,
                dot: 0.01,
                straddle: 0.005,
                specks_per_page: 6.0,
                offset_sd: 0.2,
                size: (0.5, 1.4),
            },
        }
    }

    #[must_use]
    pub fn scanner(self) -> Scanner {
        match self {
            Self::Clean => Scanner {
                skew_deg: 0.3,
                shift_mm: 1.0,
                keystone_mm: 0.0,
                fixed_canvas_skew_deg: 0.3,
                scale: (0.995, 1.005),
                blur_passes: 0,
                noise: 2.0,
                paper: (246.0, 252.0),
                black: (10.0, 25.0),
                jpeg_quality: (88, 92),
                upside_down: 0.0,
                sideways: 0.0,
                fold: 0.0,
                streak: 0.0,
                blank_backs: 0.0,
                auto_crop: 0.0,
                dark_background: 0.0,
                one_bit_noise: 6.0,
                speckle: (2e-6, 8e-6),
            },
            Self::Office => Scanner {
                skew_deg: 1.5,
                shift_mm: 3.0,
                // The field sample's office pages: corners 0.2–1.0 mm off a rectangle.
                keystone_mm: 1.0,
                fixed_canvas_skew_deg: 1.5,
                scale: (0.97, 1.01),
                blur_passes: 1,
                noise: 5.0,
                paper: (232.0, 248.0),
                black: (15.0, 40.0),
                jpeg_quality: (70, 85),
                upside_down: 0.03,
                sideways: 0.05,
                // Half the field sample's sheets came back folded for their envelopes.
                fold: 0.3,
                streak: 0.0,
                blank_backs: 0.05,
                // One page in ten auto-cropped, half of those on a dark background: 5 %.
                auto_crop: 0.1,
                dark_background: 0.5,
                one_bit_noise: 10.0,
                speckle: (1e-5, 2e-5),
            },
            Self::Hard => Scanner {
                // The independent judge's hard: skew ≤ 5°, corners up to 2.5 mm off.
                skew_deg: 5.0,
                shift_mm: 6.0,
                keystone_mm: 2.5,
                // The old hard skew, whose corner squares stay on a page-sized image.
                fixed_canvas_skew_deg: 3.0,
                scale: (0.97, 1.01),
                blur_passes: 2,
                noise: 9.0,
                paper: (215.0, 240.0),
                black: (25.0, 60.0),
                jpeg_quality: (50, 70),
                upside_down: 0.06,
                sideways: 0.1,
                fold: 0.3,
                streak: 0.1,
                blank_backs: 0.1,
                // Half the pages cropped by choice, and every one turned past 3°: ≈ 70 %
                // auto-cropped (the field sample's 附2 half: all), half of them on dark.
                auto_crop: 0.5,
                dark_background: 0.5,
                // Paper ≥ 215 less 9 of noise less 14 stays above the 190 threshold: the
                // paper's speckle comes from dust (`speckle`), not from the noise.
                one_bit_noise: 14.0,
                // The field sample's 1-bit pages: 1–4 isolated black pixels per 100,000.
                speckle: (2e-5, 4e-5),
            },
        }
    }
}

/// How respondents fill the form in.
#[derive(Debug, Clone, Copy)]
pub struct People {
    /// A single-choice question left blank.
    pub blank: f64,
    /// Two options ticked on purpose (intended: ambiguous).
    pub overvote: f64,
    /// A tick scribbled over and another option ticked (intended: ambiguous).
    pub correction: f64,
    /// A light, thin tick (intended: ambiguous).
    pub faint: f64,
    /// A tick mostly outside its box (intended: ambiguous).
    pub outside: f64,
    /// ✗ instead of ✓.
    pub cross: f64,
    /// The box filled in.
    pub fill: f64,
    /// A tick in light pencil, a fifth of toner's contrast (intended: ambiguous, likely it).
    pub pencil: f64,
    /// A deliberate small pen dot in the box (intended: ambiguous, likely it).
    pub dot: f64,
    /// A tick across the rule between two adjacent boxes (intended: ambiguous, neither).
    pub straddle: f64,
    /// Mean number of stray dots/specks per page.
    pub specks_per_page: f64,
    /// Standard deviation of a tick's centre from the box centre, in box sides.
    pub offset_sd: f64,
    /// Tick size range, in box sides.
    pub size: (f64, f64),
}

/// What the scanner does to a page.
#[derive(Debug, Clone, Copy)]
pub struct Scanner {
    /// Maximum skew, degrees either way.
    pub skew_deg: f64,
    /// Maximum shift, millimetres either way.
    pub shift_mm: f64,
    /// How far, at most, the corners are pulled off a rectangle (perspective), mm.
    pub keystone_mm: f64,
    /// The most a sheet is turned on a page-sized image. Turned further, it was scanned by a
    /// scanner that found and cropped it (as every page turned over 2.5° in the field sample
    /// was); a page-sized image would cut its corners, corner squares and all, off.
    pub fixed_canvas_skew_deg: f64,
    /// Scale range (copiers shrink, feeders stretch).
    pub scale: (f64, f64),
    /// Passes of a [1 2 1] blur (0 = sharp).
    pub blur_passes: u32,
    /// Noise amplitude, gray levels.
    pub noise: f64,
    /// Gray level of the paper.
    pub paper: (f64, f64),
    /// Gray level of solid black toner.
    pub black: (f64, f64),
    /// JPEG quality range.
    pub jpeg_quality: (u8, u8),
    /// Share of pages fed upside down.
    pub upside_down: f64,
    /// Share of landscape pages fed sideways (90° / 270°).
    pub sideways: f64,
    /// Share of pages with a fold line.
    pub fold: f64,
    /// Share of pages with a streak from dirt on the scanner glass.
    pub streak: f64,
    /// Default share of pages followed by their blank back (duplex).
    pub blank_backs: f64,
    /// Share of pages the scanner crops to the sheet it found ("auto size"): the image is the
    /// turned sheet's bounding box plus a few mm, not the page size.
    pub auto_crop: f64,
    /// Share of the auto-cropped pages scanned on a dark lid or background (gray 20–60).
    pub dark_background: f64,
    /// Sensor noise amplitude before a 1-bit threshold (gray levels): jagged outlines.
    pub one_bit_noise: f64,
    /// Range of the share of paper pixels a 1-bit scan turns black (dust, fibres).
    pub speckle: (f64, f64),
}
