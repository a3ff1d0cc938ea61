// Original file: proto/secretbroker/v1/broker.proto


export interface ReportSignalRequest {
  'agent'?: (string);
  'kind'?: (string);
  'weight'?: (number);
  'detail'?: (string);
}

export interface ReportSignalRequest__Output {
  'agent': (string);
  'kind': (string);
  'weight': (number);
  'detail': (string);
}
