// Original file: proto/secretbroker/v1/broker.proto


export interface DatabaseCredential {
  'host'?: (string);
  'port'?: (number);
  'database'?: (string);
  'user'?: (string);
  'password'?: (string);
}

export interface DatabaseCredential__Output {
  'host': (string);
  'port': (number);
  'database': (string);
  'user': (string);
  'password': (string);
}
