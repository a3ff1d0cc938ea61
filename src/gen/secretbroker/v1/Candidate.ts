// Original file: proto/secretbroker/v1/broker.proto


export interface Candidate {
  'id'?: (string);
  'requires'?: (string);
  'failedConditions'?: (string)[];
  'obligations'?: (string)[];
}

export interface Candidate__Output {
  'id': (string);
  'requires': (string);
  'failedConditions': (string)[];
  'obligations': (string)[];
}
