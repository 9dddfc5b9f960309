//! The prompt registry: named prompts with semver versions (`prompts/<id>@<version>.json`,
//! embedded at build time), each with its input schema, its Jinja template
//! (minijinja, strict about undefined variables), the JSON Schema its answer must meet,
//! and golden inputs with the structure a good answer has. A feature's route pins a
//! version; every call records the id and version it used. The tests render every golden
//! input and hold every golden answer to its schema and citation rule, so a prompt edit
//! that breaks what its consumers read fails CI.

use std::{collections::BTreeMap, sync::LazyLock};

use mirai_kit::{AppError, error::FieldError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::provider::{Message, Role};

const SOURCES: &[&str] = &[
    include_str!("../prompts/course-outline@1.0.0.json"),
    include_str!("../prompts/lesson-blocks@1.0.0.json"),
    include_str!("../prompts/quiz-questions@1.0.0.json"),
    include_str!("../prompts/rewrite-block@1.0.0.json"),
    include_str!("../prompts/summarize@1.0.0.json"),
    include_str!("../prompts/translate@1.0.0.json"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Golden {
    pub name: String,
    pub input: Value,
    pub output: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    pub id: String,
    pub version: String,
    pub description: String,
    pub system: String,
    pub user: String,
    pub max_tokens: u32,
    pub temperature: f32,
    /// When the input has `sources`, the answer must cite at least one, and only those.
    pub require_citations: bool,
    pub input_schema: Value,
    pub output_schema: Value,
    pub goldens: Vec<Golden>,
}

/// A prompt as the API lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PromptInfo {
    pub id: String,
    pub version: String,
    pub description: String,
    #[schema(value_type = Object)]
    pub input_schema: Value,
    #[schema(value_type = Object)]
    pub output_schema: Value,
}

/// `major.minor.patch`, compared numerically.
pub fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.split('.').map(|p| if p.len() > 1 && p.starts_with('0') { None } else { p.parse::<u64>().ok() });
    let out = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(out)
}

pub struct Registry {
    /// id → versions, oldest first.
    prompts: BTreeMap<String, Vec<Prompt>>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let mut prompts: BTreeMap<String, Vec<Prompt>> = BTreeMap::new();
    for src in SOURCES {
        let p: Prompt = serde_json::from_str(src).expect("a registered prompt parses");
        assert!(semver(&p.version).is_some(), "prompt {}: version {} is not semver", p.id, p.version);
        prompts.entry(p.id.clone()).or_default().push(p);
    }
    for versions in prompts.values_mut() {
        versions.sort_by_key(|p| semver(&p.version));
    }
    Registry { prompts }
});

pub fn registry() -> &'static Registry {
    &REGISTRY
}

impl Registry {
    pub fn all(&self) -> impl Iterator<Item = &Prompt> {
        self.prompts.values().flatten()
    }

    /// `id@version`, or `id` for its latest version.
    pub fn get(&self, reference: &str) -> Option<&Prompt> {
        let (id, version) = match reference.split_once('@') {
            Some((id, v)) => (id, Some(v)),
            None => (reference, None),
        };
        let versions = self.prompts.get(id)?;
        match version {
            None => versions.last(),
            Some(v) => versions.iter().find(|p| p.version == v),
        }
    }
}

impl Prompt {
    pub fn reference(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    pub fn info(&self) -> PromptInfo {
        PromptInfo {
            id: self.id.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            input_schema: self.input_schema.clone(),
            output_schema: self.output_schema.clone(),
        }
    }

    /// The messages for `input`, which must meet the input schema (field errors
    /// otherwise).
    pub fn render(&self, input: &Value) -> Result<Vec<Message>, AppError> {
        let errors = schema_errors(&self.input_schema, input, "input");
        if !errors.is_empty() {
            return Err(AppError::Invalid {
                detail: format!("input does not fit prompt {}", self.reference()),
                errors,
            });
        }
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
        let user = env
            .render_str(&self.user, input)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("prompt {} does not render: {e}", self.reference())))?;
        Ok(vec![
            Message { role: Role::System, content: self.system.clone() },
            Message { role: Role::User, content: user },
        ])
    }

    /// What is wrong with a model's answer: schema violations, then missing or unknown
    /// citations. Empty when the answer is good.
    pub fn check_output(&self, input: &Value, output: &Value) -> Vec<String> {
        let mut problems: Vec<String> = schema_errors(&self.output_schema, output, "")
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        if self.require_citations {
            let given: Vec<&str> = input["sources"]
                .as_array()
                .map(|s| s.iter().filter_map(|x| x["id"].as_str()).collect())
                .unwrap_or_default();
            let cited: Vec<&str> = output["citations"]
                .as_array()
                .map(|c| c.iter().filter_map(|x| x["source"].as_str()).collect())
                .unwrap_or_default();
            if !given.is_empty() && cited.is_empty() {
                problems.push("/citations: cite at least one of the given sources".into());
            }
            for c in cited.iter().filter(|c| !given.contains(c)) {
                problems.push(format!("/citations: `{c}` is not one of the given sources"));
            }
        }
        problems
    }
}

/// Every violation of `schema` by `value`, as field errors under `prefix`.
pub fn schema_errors(schema: &Value, value: &Value, prefix: &str) -> Vec<FieldError> {
    let validator = match jsonschema::validator_for(schema) {
        Ok(v) => v,
        Err(e) => return vec![FieldError::new(prefix, format!("the schema is invalid: {e}"))],
    };
    validator
        .iter_errors(value)
        .take(20)
        .map(|e| FieldError::new(format!("{prefix}{}", e.instance_path()), e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prompt regression: every golden input fits its prompt and renders with every
    /// variable filled; every golden answer meets the output schema and citation rule.
    #[test]
    fn every_prompt_renders_its_goldens_and_their_answers_hold_its_structure() {
        let reg = registry();
        assert!(reg.all().count() >= 6);
        for p in reg.all() {
            assert!(!p.goldens.is_empty(), "{} has no golden inputs", p.reference());
            jsonschema::validator_for(&p.output_schema).unwrap_or_else(|e| panic!("{}: {e}", p.reference()));
            for g in &p.goldens {
                let messages = p.render(&g.input).unwrap_or_else(|e| panic!("{} / {}: {e:?}", p.reference(), g.name));
                let user = &messages[1].content;
                assert!(
                    !user.contains("{{") && !user.contains("{%"),
                    "{} / {}: unrendered: {user}",
                    p.reference(),
                    g.name
                );
                // Every top-level input value the golden gives appears in what is sent.
                for (k, v) in g.input.as_object().unwrap() {
                    if let Some(s) = v.as_str() {
                        assert!(user.contains(s), "{} / {}: `{k}` is not in the prompt", p.reference(), g.name);
                    }
                }
                let problems = p.check_output(&g.input, &g.output);
                assert!(problems.is_empty(), "{} / {}: {problems:?}", p.reference(), g.name);
            }
        }
    }

    #[test]
    fn a_broken_answer_is_caught() {
        let p = registry().get("course-outline@1.0.0").unwrap();
        let g = &p.goldens[0];
        let mut out = g.output.clone();
        out["citations"] = serde_json::json!([]);
        assert!(p.check_output(&g.input, &out).iter().any(|e| e.contains("cite at least one")));
        out["citations"] = serde_json::json!([{ "source": "made-up", "excerpt": "x" }]);
        assert!(p.check_output(&g.input, &out).iter().any(|e| e.contains("made-up")));
        out.as_object_mut().unwrap().remove("modules");
        assert!(p.check_output(&g.input, &out).iter().any(|e| e.contains("modules")));
    }

    #[test]
    fn versions_resolve_to_the_pinned_or_latest() {
        assert_eq!(registry().get("translate").unwrap().version, "1.0.0");
        assert!(registry().get("translate@9.9.9").is_none());
        assert_eq!(semver("1.10.0"), Some((1, 10, 0)));
        assert_eq!(semver("1.01.0"), None);
        assert_eq!(semver("1.0"), None);
    }

    #[test]
    fn an_input_that_does_not_fit_is_a_field_error() {
        let p = registry().get("summarize").unwrap();
        match p.render(&serde_json::json!({ "text": "" })) {
            Err(AppError::Invalid { errors, .. }) => assert!(!errors.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}
