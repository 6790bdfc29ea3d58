//! HTLNet's `architecture: shared_bottom`: the paper's "w/o architecture" ablation, a
//! Shared-Bottom network trained with HTLNet's strategy. It lives here because it is the one
//! place that may import both `htlnet` and `baselines`. Its options are HTLNet's (validated
//! by `HtlNetConfig::validate`, which also checks `bottom` under this architecture); the
//! network is built from `embed_dim`, `bottom`, `tower` and `dropout`.

use burn::tensor::Device;
use rand_chacha::ChaCha8Rng;
use serde_yaml::Value;

use super::{checked_options, AnyModel, ZooError};
use crate::baselines::shared_bottom::{SharedBottom, SharedBottomConfig};
use crate::htlnet::{HtlNetConfig, HtlNetModel};
use crate::model::{BuildInfo, ModelDef, ModelOptions};

/// The Shared-Bottom options HTLNet's options stand for under `architecture: shared_bottom`.
pub fn shared_bottom_of(c: &HtlNetConfig) -> SharedBottomConfig {
    SharedBottomConfig {
        embed_dim: c.embed_dim,
        bottom: c.bottom.clone(),
        tower: c.tower.clone(),
        dropout: c.dropout.into(),
        batch_norm: false,
        shared: "trunk".into(),
    }
}

/// Builds `model: htlnet`: HTLNet, or with `architecture: shared_bottom` the Shared-Bottom
/// network it is compared against.
pub fn build_htlnet(
    v: &Value,
    info: &BuildInfo,
    rng: &mut ChaCha8Rng,
    dev: &Device,
) -> Result<AnyModel, ZooError> {
    let c: HtlNetConfig = checked_options(v)?;
    if c.architecture == "shared_bottom" {
        let sb = shared_bottom_of(&c);
        sb.validate()?;
        return Ok(AnyModel::SharedBottom(SharedBottom::new(
            &sb, info, rng, dev,
        )));
    }
    Ok(AnyModel::HtlNet(HtlNetModel::build(&c, info, rng, dev)?))
}
