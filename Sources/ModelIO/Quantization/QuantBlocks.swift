// ggml quantisation blocks, declared field by field as in ggml-common.h. Their sizes are part of
// the file format and are asserted in ModelIOTests (18, 20, 22, 24, 34, 84, 110, 144, 176, 210 bytes).
//
//   Q4_0: 32 weights = d · (q − 8),       q a 4-bit code (low nibbles: weights 0–15, high: 16–31)
//   Q4_1: 32 weights = d · q + m
//   Q5_0: 32 weights = d · (q − 16),      q a 5-bit code: 4 bits in `qs` as Q4_0, the fifth bit of
//         weight j is bit j of the little-endian word `qh`
//   Q5_1: 32 weights = d · q + m,         codes as Q5_0
//   Q8_0: 32 weights = d · q,             q a signed byte
//   Q2_K: 256 weights in 16 sub-blocks of 16; `scales` holds a 4-bit scale (low) and min (high)
//         per sub-block; 2-bit codes; weight = d·scale_j·q − dmin·min_j
//   Q3_K: 256 weights in 16 sub-blocks of 16; 6-bit signed scales (offset 32) packed in 12 bytes;
//         2-bit low codes in `qs`, the third bit in `hmask` (clear means subtract 4);
//         weight = d · (scale_j − 32) · q
//   Q5_K: as Q4_K, with a fifth code bit per weight in `qh`
//   Q4_K: 256 weights in 8 sub-blocks of 32; sub-block j has 6-bit scale s_j and min m_j packed in
//         `scales`; weight = d·s_j·q − dmin·m_j
//   Q6_K: 256 weights in 16 sub-blocks of 16; 6-bit codes split into low 4 bits (`ql`) and high 2
//         bits (`qh`); weight = d · scale_j · (q − 32)
// `d`, `m` and `dmin` are Float16 bit patterns.

public struct BlockQ4_0 {
    public var d: UInt16
    public var qs: InlineArray<16, UInt8>
}

public struct BlockQ4_1 {
    public var d: UInt16
    public var m: UInt16
    public var qs: InlineArray<16, UInt8>
}

public struct BlockQ5_0 {
    public var d: UInt16
    public var qh: InlineArray<4, UInt8>
    public var qs: InlineArray<16, UInt8>
}

public struct BlockQ5_1 {
    public var d: UInt16
    public var m: UInt16
    public var qh: InlineArray<4, UInt8>
    public var qs: InlineArray<16, UInt8>
}

public struct BlockQ2_K {
    public var scales: InlineArray<16, UInt8>
    public var qs: InlineArray<64, UInt8>
    public var d: UInt16
    public var dmin: UInt16
}

public struct BlockQ3_K {
    public var hmask: InlineArray<32, UInt8>
    public var qs: InlineArray<64, UInt8>
    public var scales: InlineArray<12, UInt8>
    public var d: UInt16
}

public struct BlockQ5_K {
    public var d: UInt16
    public var dmin: UInt16
    public var scales: InlineArray<12, UInt8>
    public var qh: InlineArray<32, UInt8>
    public var qs: InlineArray<128, UInt8>
}

public struct BlockQ8_0 {
    public var d: UInt16
    public var qs: InlineArray<32, Int8>
}

public struct BlockQ4_K {
    public var d: UInt16
    public var dmin: UInt16
    public var scales: InlineArray<12, UInt8>
    public var qs: InlineArray<128, UInt8>
}

public struct BlockQ6_K {
    public var ql: InlineArray<128, UInt8>
    public var qh: InlineArray<64, UInt8>
    public var scales: InlineArray<16, Int8>
    public var d: UInt16
}
