import CPlatform

/// The C allocator's settings that change speed (glibc only; a no-op elsewhere).
public enum Allocator {
    /// Keeps large freed blocks in the heap instead of returning them to the kernel, so routing one
    /// block after another (or training one step after another) reuses memory rather than faulting in
    /// and zeroing fresh pages each time: blocks below 256 MiB come from the heap, and up to 512 MiB
    /// of free memory stays there.
    public static func keepFreedMemory() {
        idamoe_tune_malloc(512 << 20, 256 << 20)
    }
}
