DROP TABLE installation_activity;
