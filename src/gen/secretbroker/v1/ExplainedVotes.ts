// Original file: proto/secretbroker/v1/broker.proto


export interface ExplainedVotes {
  'group'?: (string);
  'votes'?: (number);
}

export interface ExplainedVotes__Output {
  'group': (string);
  'votes': (number);
}
