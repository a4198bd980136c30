//! The mix of requests: which paths, in what proportions. `'/nosleep=90,/sleep?seconds=0.05=10'`
//! is two classes; a weight is what follows a path's last `=`, so a path may hold `=` itself.

use std::fmt;

/// One class of request: a path, and its share of the traffic.
#[derive(Clone, Debug, PartialEq)]
pub struct Class {
    pub path: String,
    pub weight: f64,
}

/// The classes, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix(pub Vec<Class>);

impl Mix {
    /// Reads `PATH=WEIGHT,PATH=WEIGHT`; a lone path weighs 1.
    pub fn parse(text: &str) -> Result<Mix, String> {
        let mut classes = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, weight) = match part.rsplit_once('=') {
                Some((path, weight)) if weight.parse::<f64>().is_ok() => {
                    (path, weight.parse::<f64>().expect("just checked"))
                }
                _ => (part, 1.0),
            };
            if !path.starts_with('/') {
                return Err(format!("{path:?} is not a path (it starts with /)"));
            }
            if !(weight.is_finite() && weight > 0.0) {
                return Err(format!(
                    "{path}: the weight {weight} is not a positive number"
                ));
            }
            classes.push(Class {
                path: path.to_owned(),
                weight,
            });
        }
        if classes.is_empty() {
            return Err("no paths: expected PATH=WEIGHT,PATH=WEIGHT".to_owned());
        }
        Ok(Mix(classes))
    }

    /// The class that a number `u` drawn uniformly from [0, 1) falls in.
    pub fn pick(&self, u: f64) -> usize {
        let total: f64 = self.0.iter().map(|c| c.weight).sum();
        let mut bound = 0.0;
        for (at, class) in self.0.iter().enumerate() {
            bound += class.weight / total;
            if u < bound {
                return at;
            }
        }
        self.0.len() - 1
    }

    /// Each class's share of the traffic, from 0 to 1.
    pub fn shares(&self) -> Vec<f64> {
        let total: f64 = self.0.iter().map(|c| c.weight).sum();
        self.0.iter().map(|c| c.weight / total).collect()
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|c| format!("{}={}", c.path, c.weight))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weight_is_what_follows_the_last_equals_sign() {
        let mix = Mix::parse("/nosleep=90,/sleep?seconds=0.05=10").unwrap();
        assert_eq!(mix.0[0].path, "/nosleep");
        assert_eq!(mix.0[1].path, "/sleep?seconds=0.05");
        assert_eq!(mix.shares(), vec![0.9, 0.1]);
        assert_eq!(
            Mix::parse("/a?x=y").unwrap().0[0].path,
            "/a?x=y",
            "no weight: 1"
        );
        assert_eq!(mix.pick(0.0), 0);
        assert_eq!(mix.pick(0.8999), 0);
        assert_eq!(mix.pick(0.9), 1);
        assert_eq!(mix.pick(0.99999), 1);
    }

    #[test]
    fn a_bad_mix_is_one_clear_message() {
        assert!(Mix::parse("").unwrap_err().contains("no paths"));
        assert!(Mix::parse("nosleep=1").unwrap_err().contains("not a path"));
        assert!(Mix::parse("/a=0").unwrap_err().contains("not a positive"));
        assert!(Mix::parse("/a=-2").unwrap_err().contains("not a positive"));
    }
}
