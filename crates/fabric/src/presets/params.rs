//! Parameters of a generator: `NAME:key=value,key=value` on the command line, or the `[params]`
//! table of a cluster TOML file. Every key must be used by the generator, or it is an error.

use crate::error::{FabricError, Result};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

impl Value {
    /// Parse a command-line value: integer, float, boolean, else string.
    pub fn parse(s: &str) -> Value {
        let t = s.trim();
        if let Ok(i) = t.parse::<i64>() {
            Value::Int(i)
        } else if let Ok(f) = t.parse::<f64>() {
            Value::Float(f)
        } else if t == "true" || t == "false" {
            Value::Bool(t == "true")
        } else {
            Value::Str(t.to_string())
        }
    }
    fn describe(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Str(s) => format!("\"{s}\""),
        }
    }
}

/// Parameters with the context used in error messages (a preset name or a file path).
#[derive(Debug, Clone)]
pub struct Params {
    pub context: String,
    values: BTreeMap<String, Value>,
    used: RefCell<BTreeSet<String>>,
    known: RefCell<BTreeSet<String>>,
}

impl Params {
    pub fn new(context: impl Into<String>) -> Self {
        Self {
            context: context.into(),
            values: BTreeMap::new(),
            used: RefCell::default(),
            known: RefCell::default(),
        }
    }

    pub fn set(&mut self, key: &str, v: Value) {
        self.values.insert(key.to_string(), v);
    }

    pub fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The parameters not read so far, in key order (a generator that forwards the rest to
    /// another preset takes them; they then count as used).
    pub fn take_unused(&self) -> Vec<(String, Value)> {
        let mut used = self.used.borrow_mut();
        let rest: Vec<(String, Value)> = self
            .values
            .iter()
            .filter(|(k, _)| !used.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, _) in &rest {
            used.insert(k.clone());
        }
        rest
    }

    fn err(&self, key: &str, problem: String) -> FabricError {
        FabricError::BadParam {
            context: self.context.clone(),
            key: key.into(),
            problem,
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.known.borrow_mut().insert(key.to_string());
        let v = self.values.get(key);
        if v.is_some() {
            self.used.borrow_mut().insert(key.to_string());
        }
        v
    }

    /// A positive integer within `[min, max]`.
    pub fn uint(&self, key: &str, default: u32, min: u32, max: u32) -> Result<u32> {
        let v = match self.get(key) {
            None => default,
            Some(Value::Int(i)) => {
                if *i < min as i64 || *i > max as i64 {
                    return Err(self.err(key, format!("{i} is out of range {min}..={max}")));
                }
                *i as u32
            }
            Some(other) => return Err(self.err(key, format!("expected an integer, got {}", other.describe()))),
        };
        Ok(v)
    }

    pub fn opt_uint(&self, key: &str, min: u32, max: u32) -> Result<Option<u32>> {
        if self.values.contains_key(key) {
            self.uint(key, 0, min, max).map(Some)
        } else {
            self.get(key);
            Ok(None)
        }
    }

    /// A positive finite number within `[min, max]`.
    pub fn float(&self, key: &str, default: f64, min: f64, max: f64) -> Result<f64> {
        let v = match self.get(key) {
            None => default,
            Some(Value::Int(i)) => *i as f64,
            Some(Value::Float(f)) => *f,
            Some(other) => return Err(self.err(key, format!("expected a number, got {}", other.describe()))),
        };
        if !v.is_finite() || v < min || v > max {
            return Err(self.err(key, format!("{v} is out of range {min}..={max}")));
        }
        Ok(v)
    }

    pub fn boolean(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Int(0)) => Ok(false),
            Some(Value::Int(1)) => Ok(true),
            Some(other) => Err(self.err(key, format!("expected true or false, got {}", other.describe()))),
        }
    }

    pub fn string(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(Value::Str(s)) => Ok(s.to_lowercase()),
            Some(other) => Ok(other.describe().trim_matches('"').to_string()),
        }
    }

    /// One of a fixed set of words.
    pub fn choice(&self, key: &str, default: &str, allowed: &[&str]) -> Result<String> {
        let s = self.string(key, default)?;
        if allowed.contains(&s.as_str()) {
            Ok(s)
        } else {
            Err(self.err(key, format!("`{s}` is not one of {}", allowed.join(", "))))
        }
    }

    /// Fail on keys no generator read.
    pub fn finish(&self) -> Result<()> {
        let used = self.used.borrow();
        if let Some(k) = self.values.keys().find(|k| !used.contains(*k)) {
            let known: Vec<String> = self.known.borrow().iter().cloned().collect();
            return Err(FabricError::UnknownParam {
                preset: self.context.clone(),
                key: k.clone(),
                known: known.join(", "),
            });
        }
        Ok(())
    }
}

/// Split `NAME:key=value,key=value` into the name and its parameters.
pub fn parse_spec(spec: &str) -> Result<(String, Vec<(String, Value)>)> {
    let (name, rest) = match spec.split_once(':') {
        Some((n, r)) => (n.trim(), r),
        None => (spec.trim(), ""),
    };
    if name.is_empty() {
        return Err(FabricError::UnknownPreset { name: spec.to_string() });
    }
    Ok((name.to_string(), parse_overrides(name, rest)?))
}

/// Parse `key=value,...` overrides; `context` (a preset name or a cluster file's path) names
/// where they apply in messages.
pub fn parse_overrides(context: &str, rest: &str) -> Result<Vec<(String, Value)>> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| FabricError::BadParam {
            context: context.to_string(),
            key: part.to_string(),
            problem: "expected key=value".into(),
        })?;
        let k = k.trim();
        if k.is_empty() {
            return Err(FabricError::BadParam {
                context: context.to_string(),
                key: part.to_string(),
                problem: "empty key".into(),
            });
        }
        if out.iter().any(|(o, _)| o == k) {
            return Err(FabricError::BadParam {
                context: context.to_string(),
                key: k.to_string(),
                problem: "given twice".into(),
            });
        }
        out.push((k.to_string(), Value::parse(v)));
    }
    Ok(out)
}
