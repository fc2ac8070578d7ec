//! `steamnet-relay`: run the CA service, or sign certificate requests offline.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use steamnet_proto::cert::{Authority, to_hex};
use steamnet_relay::authority::{CaService, DEFAULT_LIFETIME_SECS, Registry};
use steamnet_relay::keyfile;

/// steamnet's own Steam backend. With no subcommand it serves, on one UDP port, the
/// certificate authority (CA) and the P2P relay (rendezvous by Steam ID and virtual port, and
/// forwarding); `ca` signs certificate requests offline and prints the CA's public key.
#[derive(Parser)]
#[command(name = "steamnet-relay", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Certificate authority tools that need no network.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Revoke an identity's certificates across a relay cluster: no POP sharing this directory
    /// accepts a session from it again.
    Revoke {
        /// The directory the cluster shares (redis://host:port).
        #[arg(long)]
        directory: String,
        /// The Steam ID to revoke.
        identity: u64,
    },
}

#[derive(Subcommand)]
enum CaCommand {
    /// Sign a request from getCertificateRequest(); give the output to setCertificate().
    Sign {
        /// The request blob (raw bytes as saved from GDScript).
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the certificate.
        #[arg(long = "out")]
        output: PathBuf,
        #[command(flatten)]
        ca: CaArgs,
    },
    /// Print the CA's public key (hex), for steamnet/auth/trusted_ca_keys or STEAMNET_TRUSTED_CA_KEYS.
    PublicKey {
        #[command(flatten)]
        ca: CaArgs,
    },
}

#[derive(Args)]
struct CaArgs {
    /// The CA's secret key; created on first start. Keep it private: it vouches for identities.
    #[arg(long, default_value = "steamnet-ca.key")]
    ca_key: PathBuf,
    /// Identities handed out so far (one line each); default: the key file's path + ".ids".
    #[arg(long)]
    registry: Option<PathBuf>,
    /// How long certificates are valid.
    #[arg(long, default_value_t = DEFAULT_LIFETIME_SECS / 3600)]
    cert_lifetime_hours: u64,
    /// Only issue certificates for this app id (repeat for several; default: any).
    #[arg(long = "app-id")]
    app_ids: Vec<u32>,
}

#[derive(Args)]
struct ServeArgs {
    /// UDP address to serve on.
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], steamnet_relay::DEFAULT_PORT)))]
    listen: SocketAddr,
    #[command(flatten)]
    ca: CaArgs,
    /// Bytes per second each relay session may forward (MiB/s).
    #[arg(long, default_value_t = steamnet_relay::server::DEFAULT_SESSION_RATE / (1024 * 1024))]
    session_rate_mib: u64,
    /// This relay's point of presence: 1 to 4 letters or digits (e.g. "fra"). Hosted servers
    /// behind it report it as getHostedDedicatedServerPOPId.
    #[arg(long, value_parser = parse_pop)]
    pop: Option<String>,
    /// Join a relay cluster: the shared directory (redis://host:port) of its POPs. Needs
    /// --pop, and every POP of the cluster must use the same CA key.
    #[arg(long, requires = "pop")]
    directory: Option<String>,
    /// The address other POPs reach this one at (default: --listen, which must then name an
    /// address, not 0.0.0.0).
    #[arg(long)]
    public_address: Option<SocketAddr>,
    /// Log filter level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log: tracing::Level,
}

fn parse_pop(code: &str) -> Result<String, String> {
    if steamnet_relay::messages::is_pop_code(code) {
        Ok(code.to_string())
    } else {
        Err("a POP code is 1 to 4 ASCII letters or digits".into())
    }
}

fn open_ca(args: &CaArgs) -> Result<CaService, String> {
    let secret = keyfile::load_or_create_secret(&args.ca_key, || Authority::generate().secret())
        .map_err(|e| format!("CA key {}: {e}", args.ca_key.display()))?;
    let registry_path = args.registry.clone().unwrap_or_else(|| with_suffix(&args.ca_key, ".ids"));
    let registry =
        Registry::open(registry_path.clone()).map_err(|e| format!("registry {}: {e}", registry_path.display()))?;
    let mut service = CaService::new(Authority::from_secret(&secret), registry);
    service.lifetime_secs = args.cert_lifetime_hours.saturating_mul(3600).max(60);
    service.app_ids = args.app_ids.clone();
    Ok(service)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Some(Command::Ca(CaCommand::Sign { input, output, ca })) => {
            let mut service = open_ca(&ca)?;
            let request = std::fs::read(&input).map_err(|e| format!("{}: {e}", input.display()))?;
            let cert = service.sign_request(&request, steamnet_relay::unix_now())?;
            std::fs::write(&output, cert.encode()).map_err(|e| format!("{}: {e}", output.display()))?;
            println!(
                "signed steamid:{} for app {} ({} h) -> {}",
                cert.identity,
                cert.app_id,
                ca.cert_lifetime_hours,
                output.display()
            );
            Ok(())
        }
        Some(Command::Revoke { directory, identity }) => {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(steamnet_relay::directory::redis_store::revoke(&directory, identity))?;
            println!("revoked steamid:{identity} in {directory}");
            Ok(())
        }
        Some(Command::Ca(CaCommand::PublicKey { ca })) => {
            println!("{}", to_hex(&open_ca(&ca)?.authority.public_key()));
            Ok(())
        }
        None => {
            let args = cli.serve;
            tracing_subscriber::fmt().with_max_level(args.log).init();
            let service = open_ca(&args.ca)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut server = steamnet_relay::server::RelayServer::bind(args.listen, service)
                    .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
                server.session_rate = args.session_rate_mib.saturating_mul(1024 * 1024).max(1);
                server.pop = args.pop.clone();
                let bound = server.local_addr().unwrap_or(args.listen);
                if let (Some(url), Some(pop)) = (&args.directory, &args.pop) {
                    let advertised = args.public_address.unwrap_or(bound);
                    if advertised.ip().is_unspecified() {
                        return Err(
                            "--directory needs --public-address (or a --listen address other POPs can reach)".into()
                        );
                    }
                    server.join_cluster(url, pop, advertised).await?;
                    println!("steamnet-relay: POP {pop} in the cluster at {url}");
                }
                // Tests and scripts read these two lines.
                println!("steamnet-relay: CA public key {}", to_hex(&server.public_key()));
                println!("steamnet-relay: listening on {bound}");
                server.run().await;
                Ok(())
            })
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("steamnet-relay: {why}");
            ExitCode::FAILURE
        }
    }
}
