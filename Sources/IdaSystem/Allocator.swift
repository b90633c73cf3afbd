import CPlatform

/// The C allocator's settings that change speed (glibc only; a no-op elsewhere).
public enum Allocator {
    /// Keeps large freed blocks in the heap instead of returning them to the kernel, so routing one
    /// block after another (or training one step after another) reuses memory rather than faulting in
    /// and zeroing fresh pages each time: blocks below 256 MiB come from the heap, and up to 512 MiB
    /// of free memory stays there.
    /// Returns whether the C library took the settings (glibc: yes; elsewhere nothing is done).
    @discardableResult
    public static func keepFreedMemory() -> Bool {
        idamoe_tune_malloc(512 << 20, 256 << 20) == 1
    }
}
