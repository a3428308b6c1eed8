package crdt

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// appendJSONStrings appends ss as a JSON array of strings ([] when empty).
func appendJSONStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// appendJSONBytes renders a register value: as itself when the bytes are one JSON
// value (what the HTTP API assigns), else a JSON string when they are valid UTF-8,
// otherwise {"base64":"..."} so that binary values are shown without loss.
func appendJSONBytes(dst []byte, b []byte) []byte {
	if len(b) > 0 && json.Valid(b) {
		return append(dst, b...) // a JSON value (what the HTTP API assigns) shows as itself
	}
	if utf8.Valid(b) {
		return appendJSONString(dst, string(b))
	}
	dst = append(dst, `{"base64":`...)
	dst = strconv.AppendQuote(dst, base64.StdEncoding.EncodeToString(b))
	return append(dst, '}')
}

// appendJSONByteList renders several register values as a JSON array.
func appendJSONByteList(dst []byte, vs [][]byte) []byte {
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONBytes(dst, v)
	}
	return append(dst, ']')
}
