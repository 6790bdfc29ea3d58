//! Device names, parsed at the edge: `cpu` (flex, always built in), `libtorch` /
//! `libtorch-cuda:N` (feature `tch`), `cuda:N` (feature `cuda`).

use burn::tensor::Device;

use crate::run::DeviceChoice;

/// The spellings `device:` and `--device` accept, as listed in messages.
pub const VALID: &str = "cpu, libtorch, libtorch-cuda:N, cuda:N";

/// Why a device name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Not a device spelling.
    #[error("unknown device `{name}`; valid: {VALID}")]
    Unknown {
        /// The name as written.
        name: String,
    },
    /// A GPU device without a usable index.
    #[error("device `{name}`: write the GPU index after the colon, e.g. `{prefix}0`")]
    BadIndex {
        /// The name as written.
        name: String,
        /// `cuda:` or `libtorch-cuda:`.
        prefix: &'static str,
    },
    /// The backend is not compiled into this binary.
    #[error("device `{name}` needs the `{feature}` backend, which this binary was built without; rebuild with `cargo build --release --features {feature}` (README: Running on libtorch / on a GPU)")]
    NotBuilt {
        /// The name as written.
        name: String,
        /// The cargo feature to enable.
        feature: &'static str,
    },
}

fn gpu_index(name: &str, prefix: &'static str) -> Result<usize, DeviceError> {
    name.strip_prefix(prefix)
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| DeviceError::BadIndex {
            name: name.to_string(),
            prefix,
        })
}

/// Parses a device name. A device whose backend is not compiled in names the feature to
/// enable.
pub fn device_from_name(name: &str) -> Result<DeviceChoice, DeviceError> {
    let choice = |backend, device, is_gpu| {
        Ok(DeviceChoice {
            name: name.to_string(),
            backend,
            device,
            is_gpu,
        })
    };
    #[allow(unused)]
    let missing = |feature: &'static str| {
        Err(DeviceError::NotBuilt {
            name: name.to_string(),
            feature,
        })
    };
    match name {
        "cpu" | "flex" => choice("flex", Device::flex(), false),
        "libtorch" => {
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            return choice("tch", Device::libtorch(), false);
            #[cfg(not(feature = "tch"))]
            missing("tch")
        }
        n if n.starts_with("libtorch-cuda:") => {
            let _i = gpu_index(n, "libtorch-cuda:")?;
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            return choice("tch", Device::libtorch_cuda(_i), true);
            #[cfg(not(feature = "tch"))]
            missing("tch")
        }
        n if n.starts_with("cuda:") || n == "cuda" => {
            let _i = if n == "cuda" {
                0
            } else {
                gpu_index(n, "cuda:")?
            };
            #[cfg(feature = "cuda")]
            return choice("cuda", Device::cuda(_i), true);
            #[cfg(not(feature = "cuda"))]
            missing("cuda")
        }
        other => Err(DeviceError::Unknown {
            name: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_value_and_the_valid_spellings() {
        assert_eq!(
            device_from_name("gpu7").unwrap_err().to_string(),
            "unknown device `gpu7`; valid: cpu, libtorch, libtorch-cuda:N, cuda:N"
        );
        assert_eq!(
            device_from_name("cuda:x").unwrap_err().to_string(),
            "device `cuda:x`: write the GPU index after the colon, e.g. `cuda:0`"
        );
        let cpu = device_from_name("cpu").unwrap();
        assert_eq!((cpu.backend, cpu.is_gpu), ("flex", false));
    }
}
