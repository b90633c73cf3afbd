extension SafetensorsWriter {
    /// Adds an F32 tensor.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) throws {
        try checkCount(name, .f32, shape, floats.count)
        try add(name, dtype: .f32, shape: shape,
                bytes: LittleEndianEncoder.encode(floats, as: UInt32.self) { $0.bitPattern })
    }

    /// Adds an F16 tensor, rounding each value to nearest, ties to even.
    public mutating func add(_ name: String, shape: [Int], float16From values: [Float]) throws {
        try checkCount(name, .f16, shape, values.count)
        try add(name, dtype: .f16, shape: shape,
                bytes: LittleEndianEncoder.encode(values, as: UInt16.self, Half.f16(from:)))
    }

    /// Adds a BF16 tensor, rounding each value to nearest, ties to even.
    public mutating func add(_ name: String, shape: [Int], bfloat16From values: [Float]) throws {
        try checkCount(name, .bf16, shape, values.count)
        try add(name, dtype: .bf16, shape: shape,
                bytes: LittleEndianEncoder.encode(values, as: UInt16.self, Half.bf16(from:)))
    }

    /// Adds an F64 tensor.
    public mutating func add(_ name: String, shape: [Int], doubles: [Double]) throws {
        try checkCount(name, .f64, shape, doubles.count)
        try add(name, dtype: .f64, shape: shape,
                bytes: LittleEndianEncoder.encode(doubles, as: UInt64.self) { $0.bitPattern })
    }

    /// Adds an I32 tensor.
    public mutating func add(_ name: String, shape: [Int], int32s: [Int32]) throws {
        try checkCount(name, .i32, shape, int32s.count)
        try add(name, dtype: .i32, shape: shape,
                bytes: LittleEndianEncoder.encode(int32s, as: UInt32.self) { UInt32(bitPattern: $0) })
    }

    /// `values` as the little-endian bytes of an F32, F16 or BF16 tensor (the encodings of the `add`
    /// methods above, for tensors written piece by piece); other dtypes get F32.
    public static func encoded(_ values: [Float], as dtype: DType) -> [UInt8] {
        switch dtype {
        case .f16: return LittleEndianEncoder.encode(values, as: UInt16.self, Half.f16(from:))
        case .bf16: return LittleEndianEncoder.encode(values, as: UInt16.self, Half.bf16(from:))
        default: return LittleEndianEncoder.encode(values, as: UInt32.self) { $0.bitPattern }
        }
    }

    /// Checks the shape, then that `count` values fill it, before any encoding work.
    private func checkCount(_ name: String, _ dtype: DType, _ shape: [Int], _ count: Int) throws(SafetensorsError) {
        let bytes = try Self.checkedByteCount(name, dtype: dtype, shape: shape)
        let expected = bytes / dtype.byteSize
        guard count == expected else {
            throw .elementCountMismatch(path: Self.unsavedPath, tensor: name, shape: shape,
                                        expected: expected, found: count)
        }
    }
}
