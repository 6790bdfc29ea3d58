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
    /// A GPU device on a machine that shows no NVIDIA driver.
    #[error("device `{name}`: no NVIDIA driver on this machine (none of {looked} exists); run on a machine with an NVIDIA GPU and its driver, or use --device cpu")]
    NoDriver {
        /// The name as written.
        name: String,
        /// The places looked at.
        looked: String,
    },
}

/// Where a Linux machine shows an NVIDIA driver: the kernel module's version file, a GPU
/// device node `/dev/nvidiaN` (any N, so a container given only some GPUs counts), or WSL's
/// GPU device.
const DRIVER_EVIDENCE: [&str; 3] = ["/proc/driver/nvidia/version", "/dev/nvidiaN", "/dev/dxg"];

/// Before training on a GPU device: one clear line when the machine has no NVIDIA driver, in
/// place of the backend's panic in every cell (burn-cuda, libtorch). CPU devices pass.
pub fn check_gpu_driver(dev: &DeviceChoice) -> Result<(), DeviceError> {
    check_gpu_driver_in(dev, std::path::Path::new("/"))
}

/// [`check_gpu_driver`] with the file system rooted at `root` (tests).
fn check_gpu_driver_in(dev: &DeviceChoice, root: &std::path::Path) -> Result<(), DeviceError> {
    if !dev.is_gpu {
        return Ok(());
    }
    let node = std::fs::read_dir(root.join("dev")).is_ok_and(|d| {
        d.flatten().any(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n.strip_prefix("nvidia")
                    .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
            })
        })
    });
    let file = |p: &str| root.join(p.trim_start_matches('/')).exists();
    if node || file(DRIVER_EVIDENCE[0]) || file(DRIVER_EVIDENCE[2]) {
        return Ok(());
    }
    Err(DeviceError::NoDriver {
        name: dev.name.clone(),
        looked: DRIVER_EVIDENCE.join(", "),
    })
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

/// The GPU index of a GPU device name (`cuda:N`, `cuda`, `libtorch-cuda:N`), `None` for a
/// CPU device.
pub fn gpu_ordinal(name: &str) -> Option<usize> {
    if name == "cuda" {
        return Some(0);
    }
    ["cuda:", "libtorch-cuda:"]
        .iter()
        .find_map(|p| name.strip_prefix(p).and_then(|i| i.parse().ok()))
}

/// `--gpu-mem GIB` as bytes: a positive number of GiB.
pub fn parse_gpu_mem(text: &str) -> Result<u64, String> {
    match text.trim().parse::<f64>() {
        Ok(g) if g.is_finite() && g > 0.0 => Ok((g * (1u64 << 30) as f64) as u64),
        _ => Err(format!(
            "--gpu-mem {text}: give the GPU's memory in GiB as a positive number, e.g. --gpu-mem 80"
        )),
    }
}

/// Total memory of the GPU behind `dev` in bytes, as `nvidia-smi` reports it; `None` for a
/// CPU device, or where `nvidia-smi` is missing or does not answer. With
/// `CUDA_VISIBLE_DEVICES` set to indices, device `N` is its `N`-th entry.
pub fn gpu_memory_bytes(dev: &DeviceChoice) -> Option<u64> {
    if !dev.is_gpu {
        return None;
    }
    let ordinal = gpu_ordinal(&dev.name)?;
    let physical = match std::env::var("CUDA_VISIBLE_DEVICES") {
        Ok(v) if !v.trim().is_empty() => v.split(',').nth(ordinal)?.trim().to_string(),
        _ => ordinal.to_string(),
    };
    let out = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=memory.total",
            "--format=csv,noheader,nounits",
            "-i",
            &physical,
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_mib(&String::from_utf8_lossy(&out.stdout))
}

/// The first line of `nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits`
/// (MiB) as bytes.
pub fn parse_mib(text: &str) -> Option<u64> {
    let mib: u64 = text.lines().next()?.trim().parse().ok()?;
    (mib > 0).then_some(mib << 20)
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

    #[test]
    fn gpu_memory_flags_and_nvidia_smi_output() {
        assert_eq!(gpu_ordinal("cuda:3"), Some(3));
        assert_eq!(gpu_ordinal("libtorch-cuda:1"), Some(1));
        assert_eq!(gpu_ordinal("cuda"), Some(0));
        assert_eq!(gpu_ordinal("cpu"), None);
        assert_eq!(parse_gpu_mem("80"), Ok(80 << 30));
        assert_eq!(parse_gpu_mem("0.5"), Ok(1 << 29));
        assert_eq!(
            parse_gpu_mem("lots").unwrap_err(),
            "--gpu-mem lots: give the GPU's memory in GiB as a positive number, e.g. --gpu-mem 80"
        );
        assert!(parse_gpu_mem("0").is_err() && parse_gpu_mem("-4").is_err());
        // An H200 as nvidia-smi prints it.
        assert_eq!(parse_mib("143771\n"), Some(143_771 << 20));
        assert_eq!(parse_mib("[N/A]\n"), None);
        assert_eq!(gpu_memory_bytes(&device_from_name("cpu").unwrap()), None);
    }

    #[test]
    fn a_gpu_device_without_a_driver_is_one_clear_line() {
        let gpu = DeviceChoice {
            name: "cuda:0".into(),
            backend: "cuda",
            device: Device::flex(),
            is_gpu: true,
        };
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("dev")).unwrap();
        std::fs::write(root.path().join("dev/null"), "").unwrap();
        std::fs::write(root.path().join("dev/nvidiactl"), "").unwrap();
        assert_eq!(
            check_gpu_driver_in(&gpu, root.path()).unwrap_err().to_string(),
            "device `cuda:0`: no NVIDIA driver on this machine (none of /proc/driver/nvidia/version, /dev/nvidiaN, /dev/dxg exists); run on a machine with an NVIDIA GPU and its driver, or use --device cpu"
        );
        // The CPU never needs one.
        let cpu = device_from_name("cpu").unwrap();
        assert_eq!(check_gpu_driver_in(&cpu, root.path()), Ok(()));
        // Any GPU node, or the driver's version file, is enough.
        std::fs::write(root.path().join("dev/nvidia3"), "").unwrap();
        assert_eq!(check_gpu_driver_in(&gpu, root.path()), Ok(()));
        std::fs::remove_file(root.path().join("dev/nvidia3")).unwrap();
        std::fs::create_dir_all(root.path().join("proc/driver/nvidia")).unwrap();
        std::fs::write(root.path().join("proc/driver/nvidia/version"), "NVRM").unwrap();
        assert_eq!(check_gpu_driver_in(&gpu, root.path()), Ok(()));
    }
}
