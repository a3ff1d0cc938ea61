// Original file: proto/secretbroker/v1/broker.proto


export interface WhoAmIResponse {
  'name'?: (string);
  'id'?: (string);
  'roles'?: (string)[];
}

export interface WhoAmIResponse__Output {
  'name': (string);
  'id': (string);
  'roles': (string)[];
}
