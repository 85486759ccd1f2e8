// Short, lowercase type names for people (conno show, JSON output). They
// follow pyarrow's spelling where it is unambiguous, but say float32/float64
// rather than float/double.

import * as arrow from 'apache-arrow';

export function typeName(type: arrow.DataType): string {
  const T = arrow.DataType;
  if (T.isNull(type)) return 'null';
  if (T.isBool(type)) return 'bool';
  if (T.isInt(type)) return `${type.isSigned ? 'int' : 'uint'}${type.bitWidth}`;
  if (T.isFloat(type)) {
    return type.precision === arrow.Precision.HALF ? 'float16' : type.precision === arrow.Precision.SINGLE ? 'float32' : 'float64';
  }
  if (T.isUtf8(type)) return 'utf8';
  if (T.isLargeUtf8(type)) return 'large_utf8';
  if (T.isBinary(type)) return 'binary';
  if (T.isLargeBinary(type)) return 'large_binary';
  if (T.isFixedSizeBinary(type)) return `fixed_size_binary[${type.byteWidth}]`;
  if (T.isFixedSizeList(type)) return `fixed_size_list<${typeName(type.valueType)}>[${type.listSize}]`;
  if (T.isList(type)) return `list<${typeName(type.valueType)}>`;
  if (T.isStruct(type)) return `struct<${type.children.map((f) => `${f.name}: ${typeName(f.type)}`).join(', ')}>`;
  if (T.isDictionary(type)) return `dictionary<${typeName(type.dictionary)}, ${typeName(type.indices)}>`;
  // Dates, times, timestamps, decimals, maps, unions: apache-arrow's own spelling is clear enough.
  return String(type).toLowerCase();
}
