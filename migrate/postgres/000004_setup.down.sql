DROP TABLE oauth_states_used;
DROP TABLE oauth_clients;
DROP TABLE installation_handoffs;
