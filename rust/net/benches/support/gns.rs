//! Valve's GameNetworkingSockets through its flat C API, loaded at run time: the peer the
//! benchmarks measure steamnet against in the same run (`GNS_LIB=path/libGameNetworkingSockets.so`).
//! Only what they use: listen, connect, accept, send, receive, close, and the connection state.
#![allow(dead_code)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Mutex;

use libloading::{Library, Symbol};

/// `SteamNetworkingIPAddr`: packed, 16 bytes of IPv6 (v4-mapped) and a port.
#[repr(C, packed)]
pub struct IpAddr {
    ipv6: [u8; 16],
    port: u16,
}

/// `SteamNetworkingConfigValue_t`.
#[repr(C)]
pub struct ConfigValue {
    id: i32,
    data_type: i32,
    value: i64,
}

/// `k_nSteamNetworkingSend_Reliable`, and with `NoNagle`.
pub const SEND_RELIABLE: c_int = 8;
pub const SEND_RELIABLE_NO_NAGLE: c_int = 9;

const CONFIG_INT32: i32 = 1;
const CONFIG_SEND_RATE_MIN: i32 = 10;
const CONFIG_SEND_RATE_MAX: i32 = 11;
const CALLBACK_CONNECTION_STATUS_CHANGED: i32 = 201;

/// Connections the status callback saw (GNS calls it from `RunCallbacks`, on our thread).
static SEEN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

extern "C" fn on_status_changed(info: *const c_void) {
    // `SteamNetConnectionStatusChangedCallback_t` starts with the connection handle.
    let handle = unsafe { *(info as *const u32) };
    SEEN.lock().unwrap().push(handle);
}

pub struct Gns {
    lib: Library,
    sockets: *mut c_void,
}

type Fn0 = unsafe extern "C" fn() -> *mut c_void;

impl Gns {
    pub fn load(path: &str) -> Result<Gns, String> {
        let lib = unsafe { Library::new(path) }.map_err(|e| format!("{path}: {e}"))?;
        unsafe {
            let init: Symbol<unsafe extern "C" fn(*const c_void, *mut c_char) -> bool> =
                lib.get(b"GameNetworkingSockets_Init").map_err(|e| e.to_string())?;
            let mut error = [0 as c_char; 1024];
            if !init(std::ptr::null(), error.as_mut_ptr()) {
                return Err("GameNetworkingSockets_Init failed".into());
            }
            let sockets = lib.get::<Fn0>(b"SteamAPI_SteamNetworkingSockets_v009").map_err(|e| e.to_string())?();
            let utils = lib.get::<Fn0>(b"SteamAPI_SteamNetworkingUtils_v003").map_err(|e| e.to_string())?();
            let set_ptr: Symbol<unsafe extern "C" fn(*mut c_void, i32, *mut c_void) -> bool> =
                lib.get(b"SteamAPI_ISteamNetworkingUtils_SetGlobalConfigValuePtr").map_err(|e| e.to_string())?;
            set_ptr(utils, CALLBACK_CONNECTION_STATUS_CHANGED, on_status_changed as *mut c_void);
            Ok(Gns { lib, sockets })
        }
    }

    fn sym<T>(&self, name: &[u8]) -> Symbol<'_, T> {
        unsafe { self.lib.get(name) }.expect("GNS symbol")
    }

    pub fn address(&self, text: &str) -> IpAddr {
        let mut addr = IpAddr { ipv6: [0; 16], port: 0 };
        let parse: Symbol<unsafe extern "C" fn(*mut IpAddr, *const c_char) -> bool> =
            self.sym(b"SteamAPI_SteamNetworkingIPAddr_ParseString");
        let text = CString::new(text).unwrap();
        assert!(unsafe { parse(&mut addr, text.as_ptr()) }, "GNS parses {text:?}");
        addr
    }

    /// The send rate pinned at `rate` bytes a second (`SEND_RATE_MIN` = `SEND_RATE_MAX`:
    /// open-source GNS does no bandwidth estimation and paces at its minimum).
    fn options(rate: i32) -> [ConfigValue; 2] {
        let rate = rate as i64;
        [
            ConfigValue { id: CONFIG_SEND_RATE_MIN, data_type: CONFIG_INT32, value: rate },
            ConfigValue { id: CONFIG_SEND_RATE_MAX, data_type: CONFIG_INT32, value: rate },
        ]
    }

    pub fn listen(&self, at: &IpAddr, send_rate: i32) -> u32 {
        let f: Symbol<unsafe extern "C" fn(*mut c_void, *const IpAddr, c_int, *const ConfigValue) -> u32> =
            self.sym(b"SteamAPI_ISteamNetworkingSockets_CreateListenSocketIP");
        let options = Self::options(send_rate);
        unsafe { f(self.sockets, at, options.len() as c_int, options.as_ptr()) }
    }

    pub fn connect(&self, to: &IpAddr, send_rate: i32) -> u32 {
        let f: Symbol<unsafe extern "C" fn(*mut c_void, *const IpAddr, c_int, *const ConfigValue) -> u32> =
            self.sym(b"SteamAPI_ISteamNetworkingSockets_ConnectByIPAddress");
        let options = Self::options(send_rate);
        unsafe { f(self.sockets, to, options.len() as c_int, options.as_ptr()) }
    }

    /// Run callbacks; returns the connections whose status changed.
    pub fn run_callbacks(&self) -> Vec<u32> {
        let f: Symbol<unsafe extern "C" fn(*mut c_void)> = self.sym(b"SteamAPI_ISteamNetworkingSockets_RunCallbacks");
        unsafe { f(self.sockets) };
        std::mem::take(&mut *SEEN.lock().unwrap())
    }

    /// Listen at `listen`, connect to `to` (the listen address, or a proxy in front of it),
    /// accept: (client, server side) once both are connected, or `None` after 30 s.
    pub fn connected_pair(&self, listen: &str, to: &str, send_rate: i32) -> Option<(u32, u32)> {
        assert_ne!(self.listen(&self.address(listen), send_rate), 0, "GNS listens");
        let client = self.connect(&self.address(to), send_rate);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut server = 0;
        while server == 0 || self.state(client) != 3 || self.state(server) != 3 {
            for conn in self.run_callbacks() {
                if conn != client && server == 0 && self.accept(conn) == 1 {
                    server = conn;
                }
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Some((client, server))
    }

    pub fn accept(&self, conn: u32) -> i32 {
        let f: Symbol<unsafe extern "C" fn(*mut c_void, u32) -> i32> =
            self.sym(b"SteamAPI_ISteamNetworkingSockets_AcceptConnection");
        unsafe { f(self.sockets, conn) }
    }

    /// The connection's state (the first field of its real-time status).
    pub fn state(&self, conn: u32) -> i32 {
        let f: Symbol<unsafe extern "C" fn(*mut c_void, u32, *mut u8, c_int, *mut c_void) -> i32> =
            self.sym(b"SteamAPI_ISteamNetworkingSockets_GetConnectionRealTimeStatus");
        let mut status = [0u8; 512];
        unsafe { f(self.sockets, conn, status.as_mut_ptr(), 0, std::ptr::null_mut()) };
        i32::from_ne_bytes(status[..4].try_into().unwrap())
    }

    /// Send one message with `flags`; the EResult.
    pub fn send(&self, conn: u32, data: &[u8], flags: c_int) -> i32 {
        let f: Symbol<unsafe extern "C" fn(*mut c_void, u32, *const c_void, u32, c_int, *mut i64) -> i32> =
            self.sym(b"SteamAPI_ISteamNetworkingSockets_SendMessageToConnection");
        unsafe { f(self.sockets, conn, data.as_ptr().cast(), data.len() as u32, flags, std::ptr::null_mut()) }
    }

    /// Receive and release up to 256 messages; how many there were, and their bytes.
    pub fn receive(&self, conn: u32) -> (usize, usize) {
        let f: Symbol<unsafe extern "C" fn(*mut c_void, u32, *mut *mut c_void, c_int) -> c_int> =
            self.sym(b"SteamAPI_ISteamNetworkingSockets_ReceiveMessagesOnConnection");
        let release: Symbol<unsafe extern "C" fn(*mut c_void)> = self.sym(b"SteamAPI_SteamNetworkingMessage_t_Release");
        let mut messages = [std::ptr::null_mut(); 256];
        let n = unsafe { f(self.sockets, conn, messages.as_mut_ptr(), 256) }.max(0) as usize;
        let mut bytes = 0;
        for &m in &messages[..n] {
            // `SteamNetworkingMessage_t` starts with the data pointer, then its size (int).
            bytes += unsafe { *(m as *const u8).add(std::mem::size_of::<*mut c_void>()).cast::<c_int>() } as usize;
            unsafe { release(m) };
        }
        (n, bytes)
    }

    pub fn close(&self, conn: u32) {
        let f: Symbol<unsafe extern "C" fn(*mut c_void, u32, c_int, *const c_char, bool) -> bool> =
            self.sym(b"SteamAPI_ISteamNetworkingSockets_CloseConnection");
        unsafe { f(self.sockets, conn, 0, std::ptr::null(), false) };
    }
}

/// A loopback port nobody uses now, for GNS to listen on.
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
