//! Counting rules as data: which grades count as satisfied, the pass ratio, the recommend cap
//! and the quota. The tally reads these; no form's rules are written in Rust.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The counting rules of one form (`[rules]` in its TOML).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Option ids that count as "satisfied" (seed: 满意 + 比较满意).
    #[serde(default)]
    pub satisfied: Vec<String>,
    /// Satisfied ÷ graded answers must be at least this, inclusive (seed: 90 %以上(含)).
    #[serde(default = "nine_tenths")]
    pub pass_at_least: Ratio,
    /// A subject whose items are all blank on a sheet is not counted for that sheet
    /// (附3: 对与本单位无关联的窗口服务岗位,可不填写).
    #[serde(default = "yes")]
    pub skip_blank_subject: bool,
    /// The excellent-member recommendation rule (附2), if this form has one.
    #[serde(default)]
    pub recommend: Option<RecommendRule>,
    /// Review flag whose confirmation vetoes a person (一票否决), e.g. `integrity_feedback`.
    #[serde(default)]
    pub veto_flag: Option<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            satisfied: Vec::new(),
            pass_at_least: nine_tenths(),
            skip_blank_subject: true,
            recommend: None,
            veto_flag: None,
        }
    }
}

fn nine_tenths() -> Ratio {
    Ratio { num: 9, den: 10 }
}

fn yes() -> bool {
    true
}

/// 推荐优秀党员名额不能多于5名,超过名额则推荐无效; quota 20 % of the branch's members.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendRule {
    /// The check item whose tick means "recommend".
    pub item: String,
    /// More ticks than this on one sheet void it.
    pub max_per_sheet: u32,
    /// What an over-limit sheet loses.
    #[serde(default)]
    pub over_limit: OverLimit,
    /// Excellent members at most this share of the branch's members.
    pub quota: Ratio,
    #[serde(default)]
    pub quota_rounding: QuotaRounding,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverLimit {
    /// Only the sheet's recommendations are void; its grades still count.
    #[default]
    VoidRecommendations,
    /// The whole sheet is void.
    VoidSheet,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaRounding {
    /// "at most 20 %": round down (25 members → 5, 24 → 4).
    #[default]
    Floor,
    Ceil,
    /// Half rounds up.
    Nearest,
}

/// An exact fraction, written "9/10" or "90%" in form files. Compared in integers so that
/// "≥ 90 %" never depends on float rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub num: u64,
    pub den: u64,
}

impl Ratio {
    /// Is `a / b` at least this ratio? `b == 0` is never at least anything.
    pub fn reached_by(&self, a: u64, b: u64) -> bool {
        b != 0 && u128::from(a) * u128::from(self.den) >= u128::from(self.num) * u128::from(b)
    }

    /// `n × ratio`, rounded as asked.
    pub fn of(&self, n: u64, rounding: QuotaRounding) -> u64 {
        let p = u128::from(n) * u128::from(self.num);
        let d = u128::from(self.den.max(1));
        let v = match rounding {
            QuotaRounding::Floor => p / d,
            QuotaRounding::Ceil => p.div_ceil(d),
            QuotaRounding::Nearest => (2 * p + d) / (2 * d),
        };
        u64::try_from(v).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 100 {
            write!(f, "{}%", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl std::str::FromStr for Ratio {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("\"{s}\" is not a ratio: write \"9/10\" or \"90%\"");
        let (num, den) = if let Some(p) = s.strip_suffix('%') {
            (p.trim().parse::<u64>().map_err(|_| bad())?, 100)
        } else if let Some((a, b)) = s.split_once('/') {
            let a = a.trim().parse::<u64>().map_err(|_| bad())?;
            let b = b.trim().parse::<u64>().map_err(|_| bad())?;
            (a, b)
        } else {
            return Err(bad());
        };
        if den == 0 || num > den {
            return Err(format!("\"{s}\" must be a ratio between 0 and 1"));
        }
        Ok(Ratio { num, den })
    }
}

impl Serialize for Ratio {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ninety_percent_is_inclusive_and_exact() {
        let r: Ratio = "90%".parse().unwrap();
        assert!(r.reached_by(9, 10));
        assert!(!r.reached_by(8_999, 10_000));
        assert!(r.reached_by(9_000, 10_000));
        assert!(!r.reached_by(0, 0));
    }

    #[test]
    fn quota_rounds_as_configured() {
        let r: Ratio = "1/5".parse().unwrap();
        assert_eq!(r.of(24, QuotaRounding::Floor), 4);
        assert_eq!(r.of(25, QuotaRounding::Floor), 5);
        assert_eq!(r.of(26, QuotaRounding::Floor), 5);
        assert_eq!(r.of(24, QuotaRounding::Ceil), 5);
        assert_eq!(r.of(22, QuotaRounding::Nearest), 4);
        assert_eq!(r.of(23, QuotaRounding::Nearest), 5);
    }

    #[test]
    fn ratios_outside_zero_to_one_are_refused() {
        assert!("11/10".parse::<Ratio>().is_err());
        assert!("1/0".parse::<Ratio>().is_err());
        assert!("ninety".parse::<Ratio>().is_err());
    }
}
