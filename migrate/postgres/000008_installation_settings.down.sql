DROP TABLE installation_settings;
