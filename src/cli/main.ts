console.log("vmnet");
