//! The tracing subscriber `planck serve` installs: logs on stdout (compact or JSON lines),
//! filtered by `RUST_LOG` (default `info`), and with feature `otel` the same spans exported
//! over OTLP (HTTP; endpoint and headers from the standard `OTEL_EXPORTER_OTLP_*` variables).
//!
//! What is logged: one line per HTTP request (tower-http's `TraceLayer`: method, path,
//! status, latency), and the engine's own spans and events: `planck.execute` (command, case,
//! principal, outcome, rejection code, attempts, conflict retries, store time),
//! `planck.tick` and `planck.deliver_pending`. Authorization and cookie headers are marked
//! sensitive and never printed.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::serve::ServeError;

/// How log lines are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One compact human-readable line per event.
    #[default]
    Compact,
    /// One JSON object per line.
    Json,
}

/// Keeps telemetry running; flushes and stops the OTLP exporter when dropped.
#[derive(Debug)]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("planck serve: the OTLP exporter did not shut down cleanly: {err}");
        }
    }
}

/// Whether this build can export over OTLP (feature `otel`).
pub const OTLP_BUILT: bool = cfg!(feature = "otel");

/// Install the global subscriber. `otlp` exports spans over OTLP too (feature `otel`; an
/// error without it). Call it once, before starting the async runtime.
pub fn init(format: LogFormat, otlp: bool) -> Result<Telemetry, ServeError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colors only for a person at a terminal (and never with NO_COLOR set).
    let ansi = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let compact = (format == LogFormat::Compact).then(|| {
        tracing_subscriber::fmt::layer()
            .compact()
            .with_ansi(ansi)
            .with_writer(std::io::stdout)
    });
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_ansi(false)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stdout)
    });
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(compact)
        .with(json);
    #[cfg(feature = "otel")]
    {
        let (layer, provider) = if otlp {
            let (layer, provider) = otel_layer()?;
            (Some(layer), Some(provider))
        } else {
            (None, None)
        };
        registry
            .with(layer)
            .try_init()
            .map_err(|e| ServeError::Telemetry(e.to_string()))?;
        Ok(Telemetry { provider })
    }
    #[cfg(not(feature = "otel"))]
    {
        if otlp {
            return Err(ServeError::Telemetry(
                "this planck was built without OTLP export; rebuild with `--features otel`"
                    .to_string(),
            ));
        }
        registry
            .try_init()
            .map_err(|e| ServeError::Telemetry(e.to_string()))?;
        Ok(Telemetry {})
    }
}

#[cfg(feature = "otel")]
fn otel_layer<S>() -> Result<
    (
        tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>,
        opentelemetry_sdk::trace::SdkTracerProvider,
    ),
    ServeError,
>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use opentelemetry::trace::TracerProvider as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| ServeError::Telemetry(format!("the OTLP exporter: {e}")))?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("planck")
                .build(),
        )
        .build();
    let tracer = provider.tracer("planck");
    Ok((tracing_opentelemetry::layer().with_tracer(tracer), provider))
}
