package onnx

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers and enum values from onnx.proto (proto2 syntax).
const (
	// ModelProto
	fModelIRVersion     = 1
	fModelProducerName  = 2
	fModelDocString     = 6
	fModelGraph         = 7
	fModelOpsetImport   = 8
	fModelMetadataProps = 14
	// OperatorSetIdProto
	fOpsetDomain  = 1
	fOpsetVersion = 2
	// StringStringEntryProto
	fEntryKey   = 1
	fEntryValue = 2
	// GraphProto
	fGraphNode        = 1
	fGraphName        = 2
	fGraphInitializer = 5
	fGraphInput       = 11
	fGraphOutput      = 12
	// NodeProto
	fNodeInput     = 1
	fNodeOutput    = 2
	fNodeName      = 3
	fNodeOpType    = 4
	fNodeAttribute = 5
	// AttributeProto
	fAttrName  = 1
	fAttrF     = 2
	fAttrI     = 3
	fAttrInts  = 8
	fAttrType  = 20
	attrFloat  = 1
	attrInt    = 2
	attrIntsTy = 7
	// TensorProto
	fTensorDims     = 1
	fTensorDataType = 2
	fTensorName     = 8
	fTensorRawData  = 9
	dtFloat         = 1
	dtUint8         = 2
	dtInt8          = 3
	dtInt32         = 6
	dtInt64         = 7
	// ValueInfoProto / TypeProto / TensorShapeProto
	fValueName       = 1
	fValueType       = 2
	fTypeTensor      = 1
	fTensorElemType  = 1
	fTensorShape     = 2
	fShapeDim        = 1
	fDimValue        = 1
	fDimParam        = 2
	irVersion        = 7
	opsetVersion     = 13
	producerPrefix   = "gaitord "
	floatChunkValues = 16 << 10
)

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// attribute encoders (AttributeProto).

func intsAttr(name string, vals ...int64) []byte {
	b := appendString(nil, fAttrName, name)
	for _, v := range vals { // proto2 repeated int64: unpacked
		b = appendVarint(b, fAttrInts, uint64(v))
	}
	return appendVarint(b, fAttrType, attrIntsTy)
}

func intAttr(name string, v int64) []byte {
	b := appendString(nil, fAttrName, name)
	b = appendVarint(b, fAttrI, uint64(v))
	return appendVarint(b, fAttrType, attrInt)
}

func floatAttr(name string, v float32) []byte {
	b := appendString(nil, fAttrName, name)
	b = protowire.AppendTag(b, fAttrF, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, math.Float32bits(v))
	return appendVarint(b, fAttrType, attrFloat)
}

// tensorValueInfo encodes a ValueInfoProto for a float tensor; a dimension
// given as a string is symbolic (dim_param), an int64 is fixed (dim_value).
func tensorValueInfo(name string, dims ...any) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		switch d := d.(type) {
		case string:
			dim = appendString(nil, fDimParam, d)
		case int:
			dim = appendVarint(nil, fDimValue, uint64(d))
		default:
			panic(fmt.Sprintf("onnx: bad dim %T", d))
		}
		shape = appendMessage(shape, fShapeDim, dim)
	}
	tt := appendVarint(nil, fTensorElemType, dtFloat)
	tt = appendMessage(tt, fTensorShape, shape)
	tp := appendMessage(nil, fTypeTensor, tt)
	b := appendString(nil, fValueName, name)
	return appendMessage(b, fValueType, tp)
}

// initTensor is a graph initializer whose payload is either float32 values
// (streamed as little-endian raw_data) or preformatted raw bytes.
type initTensor struct {
	name  string
	dims  []int64
	dtype uint64
	f32   []float32
	raw   []byte
}

func (t *initTensor) rawLen() int {
	if t.f32 != nil {
		return 4 * len(t.f32)
	}
	return len(t.raw)
}

// head is the TensorProto encoding up to and including the raw_data tag and
// length; the payload follows it.
func (t *initTensor) head() []byte {
	b := appendString(nil, fTensorName, t.name)
	for _, d := range t.dims {
		b = appendVarint(b, fTensorDims, uint64(d))
	}
	b = appendVarint(b, fTensorDataType, t.dtype)
	b = protowire.AppendTag(b, fTensorRawData, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(t.rawLen()))
}

// writeTo writes the initializer as a GraphProto field (tag, length, body).
func (t *initTensor) writeTo(w *bufio.Writer, buf []byte) error {
	h := t.head()
	pre := protowire.AppendTag(nil, fGraphInitializer, protowire.BytesType)
	pre = protowire.AppendVarint(pre, uint64(len(h)+t.rawLen()))
	if _, err := w.Write(pre); err != nil {
		return err
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	if t.f32 == nil {
		_, err := w.Write(t.raw)
		return err
	}
	for i := 0; i < len(t.f32); i += floatChunkValues {
		buf = buf[:0]
		for _, v := range t.f32[i:min(i+floatChunkValues, len(t.f32))] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// encodedLen is the size of the initializer as a GraphProto field.
func (t *initTensor) encodedLen() int {
	n := len(t.head()) + t.rawLen()
	return protowire.SizeTag(fGraphInitializer) + protowire.SizeBytes(n)
}

func int64Raw(vals ...int64) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

// graphProto holds the encoded parts of a GraphProto.
type graphProto struct {
	name    string
	nodes   [][]byte // encoded NodeProto bodies
	inits   []*initTensor
	inputs  [][]byte // encoded ValueInfoProto bodies
	outputs [][]byte
}

// node appends a NodeProto; attrs are encoded AttributeProto bodies.
func (g *graphProto) node(op, name string, inputs, outputs []string, attrs ...[]byte) {
	var b []byte
	for _, in := range inputs {
		b = appendString(b, fNodeInput, in)
	}
	for _, out := range outputs {
		b = appendString(b, fNodeOutput, out)
	}
	b = appendString(b, fNodeName, name)
	b = appendString(b, fNodeOpType, op)
	for _, a := range attrs {
		b = appendMessage(b, fNodeAttribute, a)
	}
	g.nodes = append(g.nodes, b)
}

// smallParts encodes every graph field except the initializers.
func (g *graphProto) smallParts() []byte {
	var b []byte
	for _, n := range g.nodes {
		b = appendMessage(b, fGraphNode, n)
	}
	b = appendString(b, fGraphName, g.name)
	for _, in := range g.inputs {
		b = appendMessage(b, fGraphInput, in)
	}
	for _, out := range g.outputs {
		b = appendMessage(b, fGraphOutput, out)
	}
	return b
}

// writeModel streams a ModelProto containing g to w.
func writeModel(w io.Writer, g *graphProto, producer, doc string, meta [][2]string) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	small := g.smallParts()
	graphLen := len(small)
	for _, t := range g.inits {
		graphLen += t.encodedLen()
	}
	b := appendVarint(nil, fModelIRVersion, irVersion)
	b = appendString(b, fModelProducerName, producer)
	b = appendString(b, fModelDocString, doc)
	opset := appendString(nil, fOpsetDomain, "")
	opset = appendVarint(opset, fOpsetVersion, opsetVersion)
	b = appendMessage(b, fModelOpsetImport, opset)
	for _, kv := range meta {
		e := appendString(nil, fEntryKey, kv[0])
		e = appendString(e, fEntryValue, kv[1])
		b = appendMessage(b, fModelMetadataProps, e)
	}
	b = protowire.AppendTag(b, fModelGraph, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(graphLen))
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("write model header: %w", err)
	}
	if _, err := bw.Write(small); err != nil {
		return fmt.Errorf("write graph nodes: %w", err)
	}
	buf := make([]byte, 0, 4*floatChunkValues)
	for _, t := range g.inits {
		if err := t.writeTo(bw, buf); err != nil {
			return fmt.Errorf("write initializer %q: %w", t.name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("flush model: %w", err)
	}
	return nil
}
