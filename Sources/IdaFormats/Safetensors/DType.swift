/// Element types a safetensors file may hold; raw values are the header's "dtype" strings.
public enum DType: String, Sendable, CaseIterable {
    /// IEEE 754 binary32.
    case f32 = "F32"
    /// IEEE 754 binary16.
    case f16 = "F16"
    /// bfloat16: the top 16 bits of a binary32.
    case bf16 = "BF16"
    /// IEEE 754 binary64.
    case f64 = "F64"
    /// Signed 32-bit integer.
    case i32 = "I32"
    /// Signed 64-bit integer.
    case i64 = "I64"
    /// Unsigned byte.
    case u8 = "U8"
    /// One byte per boolean, 0 or 1.
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .u8, .bool: return 1
        }
    }

    /// The dtypes that convert to floating point (`floats`, `doubles`, `floatRows`).
    static let floating: [DType] = [.f32, .f16, .bf16, .f64]

    /// The dtypes that convert to `Int32` (`int32s`).
    public static let integral: [DType] = [.i32, .i64, .u8, .bool]

    /// Bytes taken by a tensor of this dtype and `shape` (all entries non-negative), or nil on overflow.
    func byteCount(shape: [Int]) -> Int? {
        guard let elements = TensorInfo.elementCount(shape: shape) else { return nil }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: byteSize)
        return overflow ? nil : bytes
    }
}
