//! The Dictionaries the per-message calls return: one per received message
//! (`receiveMessages*`) and a result per send (`sendMessageToConnection`). Their keys are
//! made once, and they are made and filled through the engine's C interface instead of gdext's
//! safe wrappers, as are the payloads' PackedByteArrays (made for a received message, read for
//! a sent one).
//!
//! Why the keys once: building a Godot String from Rust text for every key of every message
//! cost more than the rest of a receive (a Variant copy of a String is a reference count).
//!
//! Why the C interface: with gdext's `Dictionary::set`, one key costs five or six calls into the
//! engine (a read-only check, a copy of the key, a copy of the value, the index lookup,
//! destroying the temporaries), and every one of those first asks which thread it runs on
//! (gdext's "balanced" safeguard: `std::thread::current()` behind a TLS lookup), which costs
//! more than the call. A received message is a nine-key Dictionary, so that bookkeeping was most
//! of the time `receiveMessagesOnConnection` took (perf of the GDScript benchmark: the thread
//! check alone was a fifth of the main thread). Here a key costs one engine call (the index
//! lookup) and an int value one more (the Variant constructor), both through function pointers
//! looked up once.
//!
//! Safety rests on two facts, checked where they are used: these functions are only reached from
//! the singleton's `#[func]` methods, which Godot calls on the main thread (the binding is then
//! initialised and the thread check would pass anyway); and each Dictionary is new and its keys
//! are distinct, so every slot the index lookup returns holds NIL, which owns nothing and can be
//! overwritten without being destroyed first.

use godot::prelude::*;
use godot::sys::{self, GodotFfi};
use steamnet_net::{ReceivedMessage, SteamResult};

use crate::convert::steam_id_to_int;

/// The keys of the per-message Dictionaries, made once, and the engine entry points that fill
/// them.
pub struct MessageDictionaries {
    message: [Variant; 9],
    result: Variant,
    message_number: Variant,
    fill: FastFill,
}

impl Default for MessageDictionaries {
    fn default() -> Self {
        let message = [
            "payload",
            "size",
            "connection",
            "identity",
            "receiver_user_data",
            "time_received",
            "message_number",
            "flags",
            // steamnet extension (GNS's m_idxLane): the lane it was sent on.
            "lane",
        ]
        .map(|key| key.to_variant());
        MessageDictionaries {
            message,
            result: "result".to_variant(),
            message_number: "message_number".to_variant(),
            fill: FastFill::new(),
        }
    }
}

impl MessageDictionaries {
    /// `receiveMessages*`'s Array: a Dictionary per message.
    pub fn received(&self, messages: Vec<ReceivedMessage>) -> VarArray {
        let [payload, size, connection, identity, user_data, time_received, number, flags, lane] = &self.message;
        self.fill.array(messages.into_iter().map(|m| {
            let mut d = self.fill.dictionary();
            d.put_bytes(payload, &m.payload);
            d.put_int(size, m.payload.len() as i64);
            d.put_int(connection, m.connection as i64);
            d.put_int(identity, steam_id_to_int(m.identity));
            d.put_int(user_data, m.receiver_user_data);
            d.put_int(time_received, m.time_received);
            d.put_int(number, m.message_number);
            d.put_int(flags, m.flags as i64);
            d.put_int(lane, m.lane as i64);
            d.finish()
        }))
    }

    /// The bytes of a PackedByteArray argument (what `as_slice` gives, for three engine calls
    /// instead of three calls each behind a thread check).
    pub fn payload<'a>(&self, array: &'a PackedByteArray) -> &'a [u8] {
        self.fill.bytes_of(array)
    }

    /// `sendMessageToConnection`'s `{result, message_number}`.
    pub fn send_result(&self, result: SteamResult, number: i64) -> VarDictionary {
        let mut d = self.fill.dictionary();
        d.put_int(&self.result, result.code() as i64);
        d.put_int(&self.message_number, number);
        d.finish()
    }
}

type FromTypeConstructor = unsafe extern "C" fn(sys::GDExtensionUninitializedVariantPtr, sys::GDExtensionTypePtr);
type Destructor = unsafe extern "C" fn(sys::GDExtensionTypePtr);
type Constructor = unsafe extern "C" fn(sys::GDExtensionUninitializedTypePtr, *const sys::GDExtensionConstTypePtr);
type BuiltinMethod =
    unsafe extern "C" fn(sys::GDExtensionTypePtr, *const sys::GDExtensionConstTypePtr, sys::GDExtensionTypePtr, i32);

/// `PackedByteArray.resize(int) -> int` and `PackedByteArray.size() -> int`, by the hashes of
/// their signatures in the engine's API (stable across Godot 4 versions).
const RESIZE_HASH: i64 = 848867239;
const SIZE_HASH: i64 = 3173160232;

/// Engine entry points, looked up once (on the main thread, when the singleton is made).
struct FastFill {
    interface: &'static sys::GDExtensionInterface,
    int_to_variant: FromTypeConstructor,
    bytes_to_variant: FromTypeConstructor,
    destroy_bytes: Destructor,
    dictionary_to_variant: FromTypeConstructor,
    destroy_dictionary: Destructor,
    new_dictionary: Constructor,
    new_bytes: Constructor,
    resize_bytes: BuiltinMethod,
    bytes_size: BuiltinMethod,
}

impl FastFill {
    /// # Panics
    /// If the engine lacks a constructor every Godot 4 has.
    fn new() -> Self {
        // SAFETY: called while the singleton is created, on the main thread with the binding up.
        let interface = unsafe { sys::get_interface() };
        let method = |name: &str, hash: i64| {
            let name = StringName::from(name);
            // SAFETY: a plain lookup of an engine function pointer, by a live StringName.
            unsafe {
                (interface.variant_get_ptr_builtin_method)(
                    sys::GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY,
                    name.string_sys(),
                    hash,
                )
            }
            .unwrap_or_else(|| panic!("PackedByteArray.{name}"))
        };
        let (resize_bytes, bytes_size) = (method("resize", RESIZE_HASH), method("size", SIZE_HASH));
        // SAFETY: plain lookups of engine function pointers.
        unsafe {
            FastFill {
                interface,
                int_to_variant: (interface.get_variant_from_type_constructor)(sys::GDEXTENSION_VARIANT_TYPE_INT)
                    .expect("Variant(int) constructor"),
                bytes_to_variant: (interface.get_variant_from_type_constructor)(
                    sys::GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY,
                )
                .expect("Variant(PackedByteArray) constructor"),
                destroy_bytes: (interface.variant_get_ptr_destructor)(sys::GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY)
                    .expect("PackedByteArray destructor"),
                dictionary_to_variant: (interface.get_variant_from_type_constructor)(
                    sys::GDEXTENSION_VARIANT_TYPE_DICTIONARY,
                )
                .expect("Variant(Dictionary) constructor"),
                destroy_dictionary: (interface.variant_get_ptr_destructor)(sys::GDEXTENSION_VARIANT_TYPE_DICTIONARY)
                    .expect("Dictionary destructor"),
                new_dictionary: (interface.variant_get_ptr_constructor)(sys::GDEXTENSION_VARIANT_TYPE_DICTIONARY, 0)
                    .expect("Dictionary()"),
                new_bytes: (interface.variant_get_ptr_constructor)(sys::GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY, 0)
                    .expect("PackedByteArray()"),
                resize_bytes,
                bytes_size,
            }
        }
    }

    /// An Array of `items`, each moved into its element.
    fn array(&self, items: impl ExactSizeIterator<Item = VarDictionary>) -> VarArray {
        let mut array = VarArray::new();
        array.resize(items.len(), &Variant::nil());
        for (index, mut item) in items.enumerate() {
            // SAFETY: `index` is in bounds (the array was sized for the items) and its element
            // is the NIL `resize` put there. The element takes its own reference to the
            // Dictionary; ours is released through the engine's destructor, not gdext's Drop.
            unsafe {
                let slot = (self.interface.array_operator_index)(array.sys_mut(), index as i64);
                (self.dictionary_to_variant)(slot.cast(), item.sys_mut());
                (self.destroy_dictionary)(item.sys_mut());
            }
            std::mem::forget(item);
        }
        array
    }

    /// A new, empty Dictionary to fill with `put_*`.
    fn dictionary(&self) -> Fill<'_> {
        // SAFETY: the default constructor initialises the storage it is given and takes no
        // arguments.
        let dict = unsafe { VarDictionary::new_with_uninit(|ptr| (self.new_dictionary)(ptr, std::ptr::null())) };
        Fill { fill: self, dict }
    }

    /// A new PackedByteArray holding a copy of `bytes`.
    fn bytes(&self, bytes: &[u8]) -> PackedByteArray {
        // SAFETY: as in `dictionary`.
        let mut array = unsafe { PackedByteArray::new_with_uninit(|ptr| (self.new_bytes)(ptr, std::ptr::null())) };
        if bytes.is_empty() {
            return array;
        }
        let len = bytes.len() as i64;
        let mut error = 0i64;
        // SAFETY: `resize` takes one int and returns an int (an Error), each by pointer. The
        // index operator then points at the first of `len` contiguous bytes (null if the resize
        // failed, which is checked), of a buffer that is this array's own (it was just made).
        unsafe {
            let args: [sys::GDExtensionConstTypePtr; 1] = [std::ptr::from_ref(&len).cast()];
            (self.resize_bytes)(array.sys_mut(), args.as_ptr(), std::ptr::from_mut(&mut error).cast(), 1);
            let data = (self.interface.packed_byte_array_operator_index)(array.sys_mut(), 0);
            assert!(error == 0 && !data.is_null(), "PackedByteArray of {len} bytes: out of memory");
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
        }
        array
    }

    /// The bytes of `array`, borrowed.
    fn bytes_of<'a>(&self, array: &'a PackedByteArray) -> &'a [u8] {
        let mut len = 0i64;
        // SAFETY: `size` takes no arguments and returns an int by pointer; the const index
        // operator points at the first of `len` contiguous bytes (null when there are none),
        // which live as long as `array` is not changed, and it is borrowed shared here.
        unsafe {
            (self.bytes_size)(array.sys().cast_mut(), std::ptr::null(), std::ptr::from_mut(&mut len).cast(), 0);
            let data = (self.interface.packed_byte_array_operator_index_const)(array.sys(), 0);
            if len <= 0 || data.is_null() {
                return &[];
            }
            std::slice::from_raw_parts(data, len as usize)
        }
    }
}

/// A Dictionary being filled; each key may be put once.
struct Fill<'a> {
    fill: &'a FastFill,
    dict: VarDictionary,
}

impl Fill<'_> {
    /// The slot for `key`: a NIL Variant the Dictionary has just made for it.
    fn slot(&mut self, key: &Variant) -> sys::GDExtensionVariantPtr {
        // SAFETY: a valid Dictionary and key; the engine inserts NIL for a key it does not have.
        let slot = unsafe { (self.fill.interface.dictionary_operator_index)(self.dict.sys_mut(), key.var_sys()) };
        // SAFETY: `slot` points at a live Variant inside the Dictionary.
        debug_assert_eq!(
            unsafe { (self.fill.interface.variant_get_type)(slot) },
            sys::GDEXTENSION_VARIANT_TYPE_NIL,
            "a key put twice"
        );
        slot
    }

    fn put_int(&mut self, key: &Variant, mut value: i64) {
        let slot = self.slot(key);
        // SAFETY: `slot` holds NIL (nothing to destroy); the constructor reads the i64 it is given.
        unsafe { (self.fill.int_to_variant)(slot.cast(), std::ptr::from_mut(&mut value).cast()) };
    }

    /// A PackedByteArray holding a copy of `bytes`.
    fn put_bytes(&mut self, key: &Variant, bytes: &[u8]) {
        let mut array = self.fill.bytes(bytes);
        let slot = self.slot(key);
        // SAFETY: `slot` holds NIL. The Variant takes its own reference to the array's buffer
        // (copy-on-write), then our reference is released through the engine's destructor, so
        // gdext's Drop must not run as well.
        unsafe {
            (self.fill.bytes_to_variant)(slot.cast(), array.sys_mut());
            (self.fill.destroy_bytes)(array.sys_mut());
        }
        std::mem::forget(array);
    }

    fn finish(self) -> VarDictionary {
        self.dict
    }
}
